//! The status screen a person glances at on the device: bundle, verdict, each critical check
//! and latency p99 against the budget. An embedded-graphics `Drawable`, generic over any
//! `DrawTarget`, in two layouts: 128×64 monochrome (SSD1306-class OLED) and 320×240 colour
//! (ILI9341-class TFT).

use embedded_graphics::mono_font::ascii::{FONT_10X20, FONT_5X8, FONT_6X10};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::{BinaryColor, Rgb565, Rgb888};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};

use super::health::Health;
use crate::suite::gate::Verdict;
use crate::suite::report::Report;
use crate::suite::spec::Severity;

/// Colours of one layout.
#[derive(Debug, Clone, Copy)]
pub struct Palette<C> {
    /// Background.
    pub background: C,
    /// Text.
    pub text: C,
    /// Passing marks and the pass banner.
    pub good: C,
    /// Failing marks and the fail banner.
    pub bad: C,
    /// The degraded banner.
    pub warn: C,
    /// Text drawn on a banner.
    pub on_banner: C,
}

/// What the screen shows, distilled from a report (and live health, when serving).
#[derive(Debug, Clone, PartialEq)]
pub struct ScreenSummary {
    /// `name version`.
    pub title: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Critical checks: name and whether they hold (`None`: not measured).
    pub critical: Vec<(String, Option<bool>)>,
    /// Latency p99 (ms): live from health if given, else from the report's p99 check.
    pub p99_ms: Option<f32>,
    /// The p99 budget (ms).
    pub budget_ms: Option<f32>,
    /// Share of recent frames outside the operating envelope (live health with an envelope).
    pub outside_share: Option<f32>,
}

impl ScreenSummary {
    /// Distils `report`, preferring live `health` figures for latency.
    pub fn new(report: &Report, health: Option<&Health>) -> ScreenSummary {
        let critical = report
            .checks
            .iter()
            .filter(|c| c.severity == Severity::Critical)
            .map(|c| (c.name.clone(), c.passed))
            .collect();
        let latency = report.checks.iter().find(|c| c.kind == "latency");
        let p99_report = latency.and_then(|c| c.values.get("p99").copied().or(c.measured));
        let (p99_ms, budget_ms) = match health {
            Some(h) if h.samples > 0 => (Some(h.p99_ms), h.budget_ms),
            _ => {
                (p99_report.map(|v| v as f32), latency.and_then(|c| c.threshold).map(|v| v as f32))
            }
        };
        ScreenSummary {
            title: format!("{} {}", report.bundle.name, report.bundle.version),
            verdict: report.verdict,
            critical,
            p99_ms,
            budget_ms,
            outside_share: health.and_then(|h| h.outside_share),
        }
    }

    /// The bottom line: latency against budget, and the share of frames outside the envelope.
    fn bottom_line(&self) -> String {
        let latency = match (self.p99_ms, self.budget_ms) {
            (Some(v), Some(b)) => format!("p99 {v:.1}/{b:.0} ms"),
            (Some(v), None) => format!("p99 {v:.1} ms"),
            (None, Some(b)) => format!("p99 n/a ({b:.0} ms)"),
            (None, None) => "p99 n/a".to_string(),
        };
        match self.outside_share {
            Some(share) => format!("{latency} out {:.0}%", share * 100.0),
            None => latency,
        }
    }
}

/// Which layout to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenSize {
    /// 128×64, one bit per pixel.
    Mono128x64,
    /// 320×240, colour.
    Color320x240,
}

impl ScreenSize {
    /// Width and height in pixels.
    pub fn dimensions(self) -> (u32, u32) {
        match self {
            ScreenSize::Mono128x64 => (128, 64),
            ScreenSize::Color320x240 => (320, 240),
        }
    }
}

/// The status screen, drawable on any `DrawTarget` of colour `C`.
#[derive(Debug, Clone)]
pub struct StatusScreen<C> {
    summary: ScreenSummary,
    size: ScreenSize,
    palette: Palette<C>,
}

impl StatusScreen<BinaryColor> {
    /// The 128×64 monochrome layout.
    pub fn mono(summary: ScreenSummary) -> Self {
        let (on, off) = (BinaryColor::On, BinaryColor::Off);
        let palette =
            Palette { background: off, text: on, good: on, bad: on, warn: on, on_banner: off };
        StatusScreen { summary, size: ScreenSize::Mono128x64, palette }
    }
}

impl StatusScreen<Rgb565> {
    /// The 320×240 colour layout.
    pub fn color(summary: ScreenSummary) -> Self {
        let palette = Palette {
            background: Rgb565::BLACK,
            text: Rgb565::WHITE,
            good: Rgb565::new(4, 50, 8),
            bad: Rgb565::new(28, 8, 4),
            warn: Rgb565::new(30, 44, 0),
            on_banner: Rgb565::BLACK,
        };
        StatusScreen { summary, size: ScreenSize::Color320x240, palette }
    }
}

impl<C: PixelColor> StatusScreen<C> {
    fn metrics(&self) -> (&'static MonoFont<'static>, &'static MonoFont<'static>, i32, i32) {
        // (text font, banner font, line height, margin)
        match self.size {
            ScreenSize::Mono128x64 => (&FONT_5X8, &FONT_5X8, 8, 1),
            ScreenSize::Color320x240 => (&FONT_6X10, &FONT_10X20, 14, 6),
        }
    }
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Degraded => "DEGRADED",
        Verdict::Fail => "FAIL - NOT SERVING",
    }
}

/// A tick (`ok`), a cross (`!ok`) or a dash (not measured), in a `size`×`size` box.
pub fn draw_mark<D: DrawTarget>(
    target: &mut D,
    at: Point,
    size: i32,
    ok: Option<bool>,
    color: D::Color,
) -> Result<(), D::Error> {
    let style = PrimitiveStyle::with_stroke(color, 1);
    let s = size - 1;
    match ok {
        Some(true) => {
            Line::new(at + Point::new(0, s / 2), at + Point::new(s / 3, s))
                .into_styled(style)
                .draw(target)?;
            Line::new(at + Point::new(s / 3, s), at + Point::new(s, 0))
                .into_styled(style)
                .draw(target)
        }
        Some(false) => {
            Line::new(at, at + Point::new(s, s)).into_styled(style).draw(target)?;
            Line::new(at + Point::new(0, s), at + Point::new(s, 0)).into_styled(style).draw(target)
        }
        None => Line::new(at + Point::new(0, s / 2), at + Point::new(s, s / 2))
            .into_styled(style)
            .draw(target),
    }
}

fn truncate(s: &str, chars: usize) -> String {
    if s.chars().count() <= chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(chars.saturating_sub(1)).collect();
        t.push('~');
        t
    }
}

impl<C: PixelColor> Drawable for StatusScreen<C> {
    type Color = C;
    type Output = ();

    fn draw<D: DrawTarget<Color = C>>(&self, target: &mut D) -> Result<(), D::Error> {
        let (font, banner_font, line, margin) = self.metrics();
        let (w, h) = self.size.dimensions();
        let p = &self.palette;
        let text = MonoTextStyle::new(font, p.text);
        let cols = ((w as i32 - 2 * margin) / font.character_size.width as i32) as usize;
        Rectangle::new(Point::zero(), Size::new(w, h))
            .into_styled(PrimitiveStyle::with_fill(p.background))
            .draw(target)?;

        let mut y = margin;
        Text::with_baseline(
            &truncate(&self.summary.title, cols),
            Point::new(margin, y),
            text,
            Baseline::Top,
        )
        .draw(target)?;
        y += line;

        // Verdict banner: filled, so it reads at a glance even on a 1-bit screen.
        let banner_h = banner_font.character_size.height as i32 + 2;
        let fill = match self.summary.verdict {
            Verdict::Pass => p.good,
            Verdict::Degraded => p.warn,
            Verdict::Fail => p.bad,
        };
        Rectangle::new(Point::new(0, y), Size::new(w, banner_h as u32))
            .into_styled(PrimitiveStyle::with_fill(fill))
            .draw(target)?;
        let banner_style = MonoTextStyle::new(banner_font, p.on_banner);
        Text::with_baseline(
            verdict_text(self.summary.verdict),
            Point::new(margin, y + 1),
            banner_style,
            Baseline::Top,
        )
        .draw(target)?;
        y += banner_h + margin;

        // Critical checks, as many as fit above the latency line.
        let mark = font.character_size.height as i32 - 1;
        let rows = ((h as i32 - y - line - margin) / line).max(0) as usize;
        let n = self.summary.critical.len();
        let shown = if n > rows { rows.saturating_sub(1) } else { n };
        for (name, ok) in self.summary.critical.iter().take(shown) {
            let color = match ok {
                Some(true) => p.good,
                Some(false) => p.bad,
                None => p.text,
            };
            // On a 1-bit screen the good colour is the text colour; the mark shape carries it.
            draw_mark(target, Point::new(margin, y), mark, *ok, color)?;
            let label = truncate(name, cols.saturating_sub(2));
            Text::with_baseline(&label, Point::new(margin + mark + 3, y), text, Baseline::Top)
                .draw(target)?;
            y += line;
        }
        if shown < n {
            let failed = self
                .summary
                .critical
                .iter()
                .skip(shown)
                .filter(|(_, ok)| *ok == Some(false))
                .count();
            let more = format!("+{} more ({failed} failing)", n - shown);
            Text::with_baseline(&truncate(&more, cols), Point::new(margin, y), text, Baseline::Top)
                .draw(target)?;
        }

        // Latency against budget (and the share of frames outside the envelope), pinned to the
        // bottom line.
        let y = h as i32 - line - margin + 1;
        let latency = self.summary.bottom_line();
        Text::with_baseline(&truncate(&latency, cols), Point::new(margin, y), text, Baseline::Top)
            .draw(target)?;
        if let (ScreenSize::Color320x240, Some(v), Some(b)) =
            (self.size, self.summary.p99_ms, self.summary.budget_ms)
        {
            // A bar: full width is twice the budget; the tick marks the budget.
            let x0 = margin + (latency.len() as i32 + 1) * font.character_size.width as i32;
            let bar_w = w as i32 - x0 - margin;
            let filled = ((v / (2.0 * b)).clamp(0.0, 1.0) * bar_w as f32) as u32;
            let color = if v <= b { p.good } else { p.bad };
            Rectangle::new(Point::new(x0, y), Size::new(bar_w as u32, line as u32 - 4))
                .into_styled(PrimitiveStyle::with_stroke(p.text, 1))
                .draw(target)?;
            Rectangle::new(Point::new(x0, y), Size::new(filled, line as u32 - 4))
                .into_styled(PrimitiveStyle::with_fill(color))
                .draw(target)?;
            let tick = x0 + bar_w / 2;
            Line::new(Point::new(tick, y - 2), Point::new(tick, y + line - 3))
                .into_styled(PrimitiveStyle::with_stroke(p.text, 1))
                .draw(target)?;
        }
        Ok(())
    }
}

/// An in-memory RGB canvas, to render the screen to a PNG without a board.
#[derive(Debug, Clone)]
pub struct Canvas {
    /// The pixels.
    pub image: image::RgbImage,
}

impl Canvas {
    /// A black canvas of `size`.
    pub fn new(size: ScreenSize) -> Canvas {
        let (w, h) = size.dimensions();
        Canvas { image: image::RgbImage::new(w, h) }
    }

    /// This canvas as a `DrawTarget` of colour `C` (`BinaryColor`, `Rgb565`, ...).
    pub fn target<C>(&mut self) -> CanvasOf<'_, C> {
        CanvasOf(self, core::marker::PhantomData)
    }
}

impl OriginDimensions for Canvas {
    fn size(&self) -> Size {
        Size::new(self.image.width(), self.image.height())
    }
}

/// Draws `BinaryColor` and `Rgb565` screens alike, through `Rgb888`.
impl<C: PixelColor + Into<Rgb888>> DrawTarget for CanvasOf<'_, C> {
    type Color = C;
    type Error = core::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<C>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Self::Error> {
        for Pixel(p, c) in pixels {
            if p.x >= 0
                && p.y >= 0
                && (p.x as u32) < self.0.image.width()
                && (p.y as u32) < self.0.image.height()
            {
                let c: Rgb888 = c.into();
                self.0.image.put_pixel(p.x as u32, p.y as u32, image::Rgb([c.r(), c.g(), c.b()]));
            }
        }
        Ok(())
    }
}

/// A [`Canvas`] seen as a `DrawTarget` of colour `C`.
pub struct CanvasOf<'a, C>(&'a mut Canvas, core::marker::PhantomData<C>);

impl<C> OriginDimensions for CanvasOf<'_, C> {
    fn size(&self) -> Size {
        self.0.size()
    }
}

/// Renders the status screen for `report` in `size` to an RGB image.
pub fn render(report: &Report, health: Option<&Health>, size: ScreenSize) -> image::RgbImage {
    let summary = ScreenSummary::new(report, health);
    let mut canvas = Canvas::new(size);
    // Drawing into memory cannot fail (the error type is Infallible).
    let _ = match size {
        ScreenSize::Mono128x64 => StatusScreen::mono(summary).draw(&mut canvas.target()),
        ScreenSize::Color320x240 => StatusScreen::color(summary).draw(&mut canvas.target()),
    };
    canvas.image
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::mock_display::MockDisplay;

    fn summary(verdict: Verdict, critical: Vec<(String, Option<bool>)>) -> ScreenSummary {
        ScreenSummary {
            title: "blazeface 1.2.0".into(),
            verdict,
            critical,
            p99_ms: Some(20.2),
            budget_ms: Some(100.0),
            outside_share: None,
        }
    }

    #[test]
    fn bottom_line_adds_the_share_outside_the_envelope_when_serving() {
        let mut s = summary(Verdict::Pass, vec![]);
        assert_eq!(s.bottom_line(), "p99 20.2/100 ms");
        s.outside_share = Some(0.25);
        // 23 characters: fits the 25 columns of the 128x64 layout.
        assert_eq!(s.bottom_line(), "p99 20.2/100 ms out 25%");
    }

    fn mark(ok: Option<bool>) -> MockDisplay<BinaryColor> {
        let mut d = MockDisplay::<BinaryColor>::new();
        // The two strokes of a tick or cross share a pixel.
        d.set_allow_overdraw(true);
        draw_mark(&mut d, Point::new(0, 0), 7, ok, BinaryColor::On).unwrap();
        d
    }

    #[test]
    fn marks_are_a_tick_a_cross_and_a_dash() {
        mark(Some(true)).assert_pattern(&[
            "      #", "     # ", "     # ", "#   #  ", " # #   ", " # #   ", "  #    ",
        ]);
        mark(Some(false)).assert_pattern(&[
            "#     #", " #   # ", "  # #  ", "   #   ", "  # #  ", " #   # ", "#     #",
        ]);
        mark(None).assert_pattern(&["       ", "       ", "       ", "#######"]);
    }

    #[test]
    fn mono_layout_draws_banner_and_one_mark_per_critical_check() {
        let checks = vec![("recall".to_string(), Some(true)), ("fpr".to_string(), Some(false))];
        let mut d = MockDisplay::<BinaryColor>::new();
        d.set_allow_out_of_bounds_drawing(true);
        d.set_allow_overdraw(true);
        StatusScreen::mono(summary(Verdict::Pass, checks)).draw(&mut d).unwrap();
        let on = |x, y| d.get_pixel(Point::new(x, y)) == Some(BinaryColor::On);
        // The banner (rows 9..=18) is lit across the width, text cut out of it.
        assert!((9..=18).all(|y| on(63, y)), "banner spans the width");
        assert!(!on(1, 11), "banner text is cut out");
        // The first check row (y = 20) starts with a tick, the second (y = 28) with a cross.
        assert!(on(7, 20) && on(1, 23) && on(3, 26) && !on(1, 20), "tick");
        assert!(on(1, 28) && on(7, 28) && on(4, 31) && on(1, 34) && on(7, 34), "cross");
    }

    #[test]
    fn many_checks_are_summarised_not_dropped() {
        let checks: Vec<_> = (0..12).map(|i| (format!("check-{i}"), Some(i != 11))).collect();
        let s = StatusScreen::mono(summary(Verdict::Fail, checks));
        let mut canvas = Canvas::new(ScreenSize::Mono128x64);
        s.draw(&mut canvas.target()).unwrap();
        // Rendering must not panic and must differ from an empty screen.
        assert!(canvas.image.pixels().any(|p| p.0 != [0, 0, 0]));
    }

    #[test]
    fn color_layout_fills_the_banner_with_the_verdict_colour() {
        let mut canvas = Canvas::new(ScreenSize::Color320x240);
        let s = StatusScreen::color(summary(Verdict::Fail, vec![("x".into(), Some(false))]));
        s.draw(&mut canvas.target()).unwrap();
        let bad: Rgb888 = Rgb565::new(28, 8, 4).into();
        assert_eq!(canvas.image.get_pixel(319, 21).0, [bad.r(), bad.g(), bad.b()]);
    }
}
