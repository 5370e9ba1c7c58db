//! How the picture looks: its size, where the sky sits on it, and every colour,
//! in one place so the drawing code reads as what it draws, and so the tests can
//! tell a credible region from the background by its colour.
//!
//! The three region colours are a sequence of one hue (lavender to deep
//! indigo), so the eye reads "darker = more probable" without the legend, and
//! none of them is used by anything else drawn (the tests rely on that).

use super::projection::Frame;

/// An opaque colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// Picture size in pixels.
pub const WIDTH: u32 = 2400;
pub const HEIGHT: u32 = 1150;

/// The sky ellipse: 1760 x 880 pixels, room on the left for the Dec labels and
/// on the right for the side panel.
pub const FRAME: Frame = Frame {
    cx: 985.0,
    cy: 575.0,
    // 880 / (2√2): the semi-major axis is 880 pixels.
    scale: 311.126_983_722_080_9,
};

/// Left edge and width of the side panel.
pub const PANEL_X: f32 = 1905.0;
pub const PANEL_WIDTH: f32 = 480.0;

pub const BACKGROUND: Rgb = Rgb(255, 255, 255);
pub const REGION_90: Rgb = Rgb(180, 174, 228);
pub const REGION_50: Rgb = Rgb(122, 98, 200);
pub const REGION_10: Rgb = Rgb(58, 18, 112);

pub const TEXT: Rgb = Rgb(26, 34, 44);
pub const BORDER: Rgb = Rgb(24, 40, 54);
pub const GRID: Rgb = Rgb(110, 110, 110);
pub const GRID_ALPHA: f32 = 0.45;
pub const GALACTIC_PLANE: Rgb = Rgb(214, 39, 40);

pub const SUN: Rgb = Rgb(255, 190, 30);
pub const SUN_EDGE: Rgb = Rgb(170, 105, 0);
pub const SUN_ZONE: Rgb = Rgb(255, 196, 40);
pub const MOON: Rgb = Rgb(72, 146, 216);
pub const MOON_EDGE: Rgb = Rgb(22, 64, 112);
pub const MOON_ZONE: Rgb = Rgb(80, 150, 215);
/// Opacity of the exclusion-zone fills: light enough to see regions through.
pub const ZONE_ALPHA: f32 = 0.2;

/// The ring around the most probable position.
pub const PEAK: Rgb = Rgb(20, 20, 20);
pub const PEAK_RADIUS: f32 = 18.0;

/// Exclusion radii observers use, degrees.
pub const SUN_RADIUS_DEG: f64 = 33.0;
pub const MOON_RADIUS_DEG: f64 = 20.0;
/// Radius of the Sun and Moon markers, pixels.
pub const MARKER_RADIUS: f32 = 11.0;

/// Font sizes in pixels.
pub const AXIS_FONT: f32 = 28.0;
pub const PANEL_FONT: f32 = 22.0;
pub const PANEL_LINE: f32 = 31.0;

impl Rgb {
    /// This colour laid over `under` with opacity `alpha`.
    pub fn over(self, under: Rgb, alpha: f32) -> Rgb {
        let mix =
            |a: u8, b: u8| (f32::from(a) * alpha + f32::from(b) * (1.0 - alpha)).round() as u8;
        Rgb(
            mix(self.0, under.0),
            mix(self.1, under.1),
            mix(self.2, under.2),
        )
    }

    pub fn skia(self) -> tiny_skia::Color {
        tiny_skia::Color::from_rgba8(self.0, self.1, self.2, 255)
    }

    pub fn skia_alpha(self, alpha: f32) -> tiny_skia::Color {
        let mut color = self.skia();
        color.set_alpha(alpha);
        color
    }
}
