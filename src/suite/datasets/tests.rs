use std::path::Path;

use crate::suite::spec::Suite;

fn png(path: &Path, w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::new(w, h).save(path).unwrap();
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const CHECK: &str = "[[checks]]\nname = \"r\"\nkind = \"accuracy\"\nseverity = \"major\"\nmetric = \"recall\"\nthreshold = 0.5\n";

fn suite(dir: &Path, datasets: &str) -> crate::error::Result<Suite> {
    write(&dir.join("suite.toml"), &format!("name = \"t\"\n{datasets}\n{CHECK}"));
    Suite::load(&dir.join("suite.toml"))
}

const COCO: &str = r#"{
 "images": [
  {"id": 1, "file_name": "a.png", "width": 200, "height": 100, "site": "north"},
  {"id": 2, "file_name": "b.png", "width": 200, "height": 100, "attributes": {"site": "south"}}
 ],
 "annotations": [
  {"id": 1, "image_id": 1, "category_id": 3, "bbox": [10, 10, 20, 20], "iscrowd": 0},
  {"id": 2, "image_id": 1, "category_id": 5, "bbox": [50, 0, 140, 100], "iscrowd": 0},
  {"id": 3, "image_id": 2, "category_id": 5, "bbox": [0, 0, 200, 100], "iscrowd": 1}
 ],
 "categories": [{"id": 3, "name": "person"}, {"id": 5, "name": "car"}]
}"#;

#[test]
fn a_coco_export_becomes_cases_with_classes_sizes_and_recorded_tags() {
    let tmp = tempfile::tempdir().unwrap();
    png(&tmp.path().join("coco/a.png"), 200, 100);
    png(&tmp.path().join("coco/b.png"), 200, 100);
    write(&tmp.path().join("coco/instances.json"), COCO);
    let s = suite(
        tmp.path(),
        "[[datasets]]\nformat = \"coco\"\npath = \"coco/instances.json\"\ntags = [\"coco\"]\ntags_from = [\"site\"]\n",
    )
    .unwrap();
    assert_eq!(s.cases.len(), 2);
    let a = &s.cases[0];
    assert_eq!(a.id, "a");
    assert_eq!(a.objects, Some(2));
    assert_eq!(a.boxes, vec![[10.0, 10.0, 30.0, 30.0], [50.0, 0.0, 190.0, 100.0]]);
    assert_eq!(a.box_classes, vec!["person", "car"]);
    for tag in ["coco", "class:car", "class:person", "size:small", "size:large", "site:north"] {
        assert!(a.tags.iter().any(|t| t == tag), "{tag} missing from {:?}", a.tags);
    }
    // The crowd region is not an object; the attribute is a tag all the same.
    let b = &s.cases[1];
    assert_eq!((b.objects, b.boxes.len()), (Some(0), 0));
    assert!(b.tags.contains(&"site:south".to_string()), "{:?}", b.tags);
}

#[test]
fn a_yolo_export_and_class_folders_become_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    png(&d.join("yolo/images/x.png"), 100, 50);
    png(&d.join("yolo/images/empty.jpg"), 100, 50);
    write(&d.join("yolo/classes.txt"), "cat\ndog\n");
    write(&d.join("yolo/labels/x.txt"), "1 0.5 0.5 0.2 0.4\n0 0.1 0.1 0.2 0.2\n");
    png(&d.join("pets/cat/1.png"), 8, 8);
    png(&d.join("pets/dog/1.png"), 8, 8);
    let s = suite(
        d,
        "[[datasets]]\nformat = \"yolo\"\npath = \"yolo/labels\"\n\n[[datasets]]\nformat = \"folders\"\npath = \"pets\"\n",
    )
    .unwrap();
    let ids: Vec<&str> = s.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["empty", "x", "cat/1", "dog/1"]);
    assert_eq!(s.cases[0].objects, Some(0), "an image without a label file holds nothing");
    let x = &s.cases[1];
    assert_eq!(x.box_classes, vec!["dog", "cat"]);
    let b = x.boxes[0];
    assert!((b[0] - 40.0).abs() < 1e-4 && (b[3] - 35.0).abs() < 1e-4, "{b:?}");
    assert_eq!(s.cases[3].label.as_deref(), Some("dog"));
    assert!(s.cases[3].tags.contains(&"class:dog".to_string()));
}

#[test]
fn malformed_exports_fail_in_one_line_naming_the_file_and_the_record() {
    let cases: [(&str, &str, &str); 6] = [
        (
            r#""category_id": 3, "bbox": [10, 10, 20, 20]"#,
            r#""category_id": 9, "bbox": [10, 10, 20, 20]"#,
            "annotations[0]: unknown category 9",
        ),
        (r#""bbox": [10, 10, 20, 20]"#, r#""bbox": [190, 10, 40, 20]"#, "annotations[0]: box"),
        (r#""file_name": "b.png""#, r#""file_name": "nope.png""#, "images[1]: missing image"),
        (r#"{"id": 2, "file_name""#, r#"{"id": 1, "file_name""#, "images[1]: duplicate image id 1"),
        (r#""image_id": 2,"#, r#""image_id": 7,"#, "annotations[2]: unknown image 7"),
        (
            r#""bbox": [10, 10, 20, 20]"#,
            r#""bbox": [10, 10]"#,
            "annotations[0]: bbox has 2 numbers",
        ),
    ];
    for (from, to, want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        png(&tmp.path().join("a.png"), 200, 100);
        png(&tmp.path().join("b.png"), 200, 100);
        assert!(COCO.contains(from), "{from}");
        write(&tmp.path().join("i.json"), &COCO.replacen(from, to, 1));
        let err = suite(tmp.path(), "[[datasets]]\nformat = \"coco\"\npath = \"i.json\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("i.json") && err.contains(want), "{want}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // YOLO: a class past the list, a coordinate past the image, a label without its image.
    for (line, want) in
        [("2 0.5 0.5 0.1 0.1", "unknown class 2"), ("0 1.5 0.5 0.1 0.1", "within 0..=1")]
    {
        let tmp = tempfile::tempdir().unwrap();
        png(&tmp.path().join("images/x.png"), 10, 10);
        write(&tmp.path().join("classes.txt"), "a\nb\n");
        write(&tmp.path().join("labels/x.txt"), line);
        let err = suite(tmp.path(), "[[datasets]]\nformat = \"yolo\"\npath = \"labels\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.txt") && err.contains("line 1") && err.contains(want), "{err}");
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("images")).unwrap();
    write(&tmp.path().join("classes.txt"), "a\n");
    write(&tmp.path().join("labels/ghost.txt"), "0 0.5 0.5 0.1 0.1");
    let err = suite(tmp.path(), "[[datasets]]\nformat = \"yolo\"\npath = \"labels\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ghost.txt") && err.contains("missing image ghost"), "{err}");
    // An id a [[cases]] entry already took; a path leaving the suite's folder; an unknown key.
    let tmp = tempfile::tempdir().unwrap();
    png(&tmp.path().join("a.png"), 200, 100);
    png(&tmp.path().join("b.png"), 200, 100);
    write(&tmp.path().join("i.json"), COCO);
    let taken = "[[cases]]\nid = \"a\"\nimage = \"a.png\"\nobjects = 1\n\n[[datasets]]\nformat = \"coco\"\npath = \"i.json\"\n";
    let err = suite(tmp.path(), taken).unwrap_err().to_string();
    assert!(err.contains("duplicate case id \"a\""), "{err}");
    let err = suite(tmp.path(), "[[datasets]]\nformat = \"coco\"\npath = \"../i.json\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("datasets[0].path"), "{err}");
    let err =
        suite(tmp.path(), "[[datasets]]\nformat = \"coco\"\npath = \"i.json\"\ntag_from = []\n")
            .unwrap_err()
            .to_string();
    assert!(err.contains("tag_from"), "{err}");
}

#[test]
fn a_voc_export_and_a_csv_become_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    png(&d.join("voc/JPEGImages/street.png"), 300, 200);
    write(
        &d.join("voc/Annotations/street.xml"),
        "<annotation><folder>VOC2012</folder><filename>street.png</filename>\
         <size><width>300</width><height>200</height><depth>3</depth></size>\
         <object><name>car</name><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>110</xmax><ymax>80</ymax></bndbox></object>\
         <object><name>person</name><bndbox><xmin>201</xmin><ymin>1</ymin><xmax>240</xmax><ymax>150</ymax></bndbox></object>\
         </annotation>",
    );
    png(&d.join("table/p.png"), 64, 64);
    png(&d.join("table/q.png"), 64, 64);
    write(
        &d.join("table/boxes.csv"),
        "image,x0,y0,x1,y1,class,camera\np.png,1,2,30,40,cat,front\np.png,10,10,20,20,dog,front\nq.png,,,,,,rear\n",
    );
    let s = suite(
        d,
        "[[datasets]]\nformat = \"voc\"\npath = \"voc/Annotations\"\ntags_from = [\"folder\"]\n\n\
         [[datasets]]\nformat = \"csv\"\npath = \"table/boxes.csv\"\ntags_from = [\"camera\"]\n",
    )
    .unwrap();
    let street = &s.cases[0];
    assert_eq!(street.boxes, vec![[10.0, 20.0, 110.0, 80.0], [200.0, 0.0, 240.0, 150.0]]);
    assert_eq!(street.box_classes, vec!["car", "person"]);
    assert!(street.tags.contains(&"folder:VOC2012".to_string()), "{:?}", street.tags);
    let (p, q) = (&s.cases[1], &s.cases[2]);
    assert_eq!(
        (p.id.as_str(), p.objects, p.box_classes.clone()),
        ("p", Some(2), vec!["cat".to_string(), "dog".to_string()])
    );
    assert_eq!((q.id.as_str(), q.objects), ("q", Some(0)));
    assert!(q.tags.contains(&"camera:rear".to_string()), "{:?}", q.tags);

    // Classification from a `label` column; a malformed row names its line.
    write(&d.join("table/labels.csv"), "image,label\np.png,cat\nq.png,\n");
    let err = suite(d, "[[datasets]]\nformat = \"csv\"\npath = \"table/labels.csv\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("labels.csv") && err.contains("row 3") && err.contains("label"), "{err}");
    write(&d.join("table/labels.csv"), "image,label\np.png,cat\nq.png,dog\n");
    let s = suite(d, "[[datasets]]\nformat = \"csv\"\npath = \"table/labels.csv\"\n").unwrap();
    assert_eq!(s.cases[1].label.as_deref(), Some("dog"));
    // A VOC box past its image.
    write(
        &d.join("voc/Annotations/street.xml"),
        "<annotation><filename>street.png</filename><size><width>300</width><height>200</height></size>\
         <object><name>car</name><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>410</xmax><ymax>80</ymax></bndbox></object></annotation>",
    );
    let err = suite(d, "[[datasets]]\nformat = \"voc\"\npath = \"voc/Annotations\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("street.xml") && err.contains("object[0]") && err.contains("outside"),
        "{err}"
    );
}
