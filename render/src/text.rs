//! Text on the picture, from DejaVu Sans compiled into the binary: no system
//! fonts and no fontconfig, so the picture is the same on every machine (and
//! the same bytes every time).
//!
//! ab_glyph rasterises each glyph's outline to coverage values, which are
//! blended into the canvas; the layout is a single line with the font's
//! advances and kerning, which is all labels and the side panel need.

use std::io;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};

use super::canvas::Canvas;
use super::style::Rgb;

static REGULAR_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

/// Horizontal placement of a line of text relative to its x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Centre,
    Right,
}

/// A style of text: face, size (pixels) and colour.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle {
    pub bold: bool,
    pub size: f32,
    pub color: Rgb,
}

/// The two faces the picture uses.
pub struct Fonts {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

impl Fonts {
    pub fn load() -> io::Result<Fonts> {
        let parse = |bytes: &'static [u8]| {
            FontRef::try_from_slice(bytes).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("compiled-in font: {e}"))
            })
        };
        Ok(Fonts {
            regular: parse(REGULAR_TTF)?,
            bold: parse(BOLD_TTF)?,
        })
    }

    fn face(&self, style: TextStyle) -> &FontRef<'static> {
        if style.bold {
            &self.bold
        } else {
            &self.regular
        }
    }

    /// Width of `text` in pixels.
    pub fn width(&self, text: &str, style: TextStyle) -> f32 {
        let font = self.face(style).as_scaled(PxScale::from(style.size));
        let mut width = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(prev) = previous {
                width += font.kern(prev, id);
            }
            width += font.h_advance(id);
            previous = Some(id);
        }
        width
    }

    /// Height above the baseline of capital letters, in pixels (for centring
    /// text on a point).
    pub fn cap_height(&self, style: TextStyle) -> f32 {
        // DejaVu's capitals are 0.73 em tall; ab_glyph's scale is ascent -
        // descent (1.164 em for DejaVu).
        style.size * 0.73 / 1.164
    }

    /// Draws one line with its baseline at `y`; returns its width.
    pub fn draw(
        &self,
        canvas: &mut Canvas,
        text: &str,
        x: f32,
        y: f32,
        align: Align,
        style: TextStyle,
    ) -> f32 {
        let width = self.width(text, style);
        let mut pen_x = match align {
            Align::Left => x,
            Align::Centre => x - width / 2.0,
            Align::Right => x - width,
        };
        let font = self.face(style).as_scaled(PxScale::from(style.size));
        let mut previous = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(prev) = previous {
                pen_x += font.kern(prev, id);
            }
            let glyph = id.with_scale_and_position(style.size, ab_glyph::point(pen_x, y));
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                let (left, top) = (bounds.min.x as i64, bounds.min.y as i64);
                outline.draw(|gx, gy, coverage| {
                    canvas.blend(
                        left + i64::from(gx),
                        top + i64::from(gy),
                        style.color,
                        coverage,
                    );
                });
            }
            pen_x += font.h_advance(id);
            previous = Some(id);
        }
        width
    }

    /// `text` cut with an ellipsis to fit `max_width` pixels.
    pub fn fit(&self, text: &str, max_width: f32, style: TextStyle) -> String {
        if self.width(text, style) <= max_width {
            return text.to_string();
        }
        let mut chars: Vec<char> = text.chars().collect();
        while !chars.is_empty() {
            chars.pop();
            let candidate: String = chars.iter().collect::<String>() + "…";
            if self.width(&candidate, style) <= max_width {
                return candidate;
            }
        }
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STYLE: TextStyle = TextStyle {
        bold: false,
        size: 22.0,
        color: Rgb(0, 0, 0),
    };

    #[test]
    fn the_compiled_in_fonts_load_and_have_our_symbols() {
        let fonts = Fonts::load().expect("fonts");
        for c in ['°', '²', '±', '…', '−', 'z'] {
            assert_ne!(fonts.regular.glyph_id(c).0, 0, "{c} missing");
        }
        assert!(fonts.width("Event", STYLE) > 40.0);
    }

    #[test]
    fn long_lines_are_cut_to_fit() {
        let fonts = Fonts::load().expect("fonts");
        let long = "Instruments: H1,L1,V1,K1,G1,H1,L1,V1,K1,G1,H1,L1,V1,K1,G1";
        let cut = fonts.fit(long, 200.0, STYLE);
        assert!(
            cut.ends_with('…') && fonts.width(&cut, STYLE) <= 200.0,
            "{cut}"
        );
        assert_eq!(fonts.fit("short", 200.0, STYLE), "short");
    }

    #[test]
    fn drawing_marks_pixels() {
        let fonts = Fonts::load().expect("fonts");
        let mut canvas = Canvas::new(200, 50, Rgb(255, 255, 255)).expect("canvas");
        fonts.draw(&mut canvas, "Hello", 10.0, 35.0, Align::Left, STYLE);
        let dark = canvas.data_mut().chunks(4).filter(|p| p[0] < 128).count();
        assert!(dark > 50, "{dark}");
    }
}
