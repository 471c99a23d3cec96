/* The C firmware example: boot the bundle (self-test + gate), print the verdict, serve the
 * given frames (binary PPM/PGM files) and print health.
 *
 *   cargo rustc --lib --features capi --crate-type staticlib
 *   gcc examples/c/firmware.c -Iinclude target/debug/libpreflight.a -lm -lpthread -ldl -o target/firmware-c
 *   target/firmware-c models/blazeface frame.ppm ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight.h"

/* Reads a binary PPM (P6, RGB) or PGM (P5, gray) with maxval 255. */
static unsigned char *read_pnm(const char *path, unsigned *w, unsigned *h, unsigned *channels) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char magic[3] = {0};
    unsigned maxval = 0;
    unsigned char *pixels = NULL;
    if (fscanf(f, "%2s %u %u %u", magic, w, h, &maxval) == 4 && maxval == 255 && fgetc(f) != EOF) {
        *channels = strcmp(magic, "P6") == 0 ? 3 : strcmp(magic, "P5") == 0 ? 1 : 0;
        size_t size = (size_t)*w * *h * *channels;
        if (*channels && size && (pixels = malloc(size)) && fread(pixels, 1, size, f) != size) {
            free(pixels);
            pixels = NULL;
        }
    }
    fclose(f);
    return pixels;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s BUNDLE FRAME.ppm...\n", argv[0]);
        return 2;
    }
    PreflightRuntime *rt = NULL;
    int rc = preflight_start(argv[1], NULL, 0, 0, &rt);
    if (rc == PREFLIGHT_REFUSED) {
        char *report = preflight_last_report_json();
        fprintf(stderr, "not serving: %s\n%s\n", preflight_last_error(), report ? report : "");
        preflight_string_free(report);
        return 1;
    }
    if (rc != PREFLIGHT_OK) {
        fprintf(stderr, "cannot start: %s\n", preflight_last_error());
        return 2;
    }
    static const char *verdicts[] = {"pass", "degraded", "fail"};
    printf("verdict: %s\n", verdicts[preflight_verdict(rt)]);

    for (int i = 2; i < argc; i++) {
        unsigned w, h, c;
        unsigned char *pixels = read_pnm(argv[i], &w, &h, &c);
        if (!pixels) {
            fprintf(stderr, "%s: not a binary PPM/PGM with maxval 255\n", argv[i]);
            preflight_free(rt);
            return 2;
        }
        PreflightDetection dets[8];
        size_t found = 0;
        rc = preflight_infer(rt, pixels, w, h, w * c, c, dets, 8, &found);
        free(pixels);
        if (rc != PREFLIGHT_OK && rc != PREFLIGHT_CAPACITY) {
            fprintf(stderr, "%s: %s\n", argv[i], preflight_last_error());
            preflight_free(rt);
            return 2;
        }
        printf("%s: %zu detection(s)\n", argv[i], found);
        for (size_t d = 0; d < found && d < 8; d++) {
            printf("  %.2f [%.0f, %.0f, %.0f, %.0f]\n", dets[d].score, dets[d].x0, dets[d].y0, dets[d].x1, dets[d].y1);
        }
    }

    PreflightHealth health;
    if (preflight_health(rt, &health) == PREFLIGHT_OK) {
        static const char *states[] = {"ok", "over budget", "not enough data", "outside the envelope"};
        printf("health: %s, %u samples, p99 %.1f ms (budget %.0f ms)\n", states[health.status], health.samples,
               health.p99_ms, health.budget_ms);
        if (health.outside_share >= 0) {
            printf("frames outside the proven envelope: %.0f%%\n", health.outside_share * 100.0);
        }
    }
    preflight_free(rt);
    return 0;
}
