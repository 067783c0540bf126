//! QR codes of registration URIs, as SVG and PNG (the `qrcode` crate), at error-correction level
//! M with the standard 4-module quiet zone, so phone cameras read them off a screen reliably.

use std::io::Cursor;

use image::{ImageFormat, Luma};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Pixels per module of the PNG: a registration URI (~300 characters) becomes a version 10–12
/// code, about 400 px wide with its quiet zone.
const PNG_MODULE_PX: u32 = 6;
/// The SVG's minimum size in px (it scales without loss anyway).
const SVG_MIN_PX: u32 = 256;

/// One QR code in both formats.
#[derive(Clone, PartialEq, Eq)]
pub struct QrImages {
    /// A standalone SVG document.
    pub svg: String,
    /// A grayscale PNG.
    pub png: Vec<u8>,
}

impl std::fmt::Debug for QrImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The images encode the registration token: never printed.
        f.write_str("QrImages(redacted)")
    }
}

/// Why a QR code could not be made (the data does not fit, or PNG encoding failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot render the QR code: {0}")]
pub struct QrError(String);

/// The QR code of `data`.
pub fn render(data: &str) -> Result<QrImages, QrError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| QrError(e.to_string()))?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(SVG_MIN_PX, SVG_MIN_PX)
        .quiet_zone(true)
        .build();
    let bitmap = code
        .render::<Luma<u8>>()
        .module_dimensions(PNG_MODULE_PX, PNG_MODULE_PX)
        .quiet_zone(true)
        .build();
    let mut png = Vec::new();
    bitmap
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| QrError(e.to_string()))?;
    Ok(QrImages { svg, png })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_png(png: &[u8]) -> String {
        let image = image::load_from_memory_with_format(png, ImageFormat::Png)
            .unwrap()
            .to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "exactly one QR code in the PNG");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn png_decodes_to_exactly_the_data() {
        let uri = format!(
            "authy://account?token={}",
            "eyJhbGciOiJIUzI1NiJ9.".repeat(14)
        );
        let images = render(&uri).unwrap();
        assert!(images.png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(decode_png(&images.png), uri);
        let (w, h) = image::load_from_memory(&images.png)
            .unwrap()
            .into_luma8()
            .dimensions();
        assert_eq!(w, h);
        assert!((300..=700).contains(&w), "{w} px");
    }

    #[test]
    fn svg_is_a_standalone_document() {
        let images = render("authy://account?token=abc").unwrap();
        assert!(images.svg.starts_with("<?xml"));
        assert!(images.svg.contains("<svg"));
        assert!(images.svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn data_too_long_is_an_error_not_a_panic() {
        assert!(render(&"x".repeat(5000)).is_err());
    }
}
