//! The page for people and its assets, compiled into the binary.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use house_price::Model;

const INDEX_TEMPLATE: &str = include_str!("../../static/index.html");
const APP_JS: &str = include_str!("../../static/app.js");
const STYLE_CSS: &str = include_str!("../../static/style.css");

/// The page for people, rendered once at startup with the model's version and accuracy.
#[derive(Debug)]
pub struct Page {
    html: String,
}

impl Page {
    /// Fills the template in; asset URLs carry a hash of the assets so that browsers may
    /// cache them for good and still fetch new ones after a deployment.
    pub fn render(model: &Model, max_upload_bytes: usize) -> Page {
        let rmse = model.artifact().training.cross_validation.rmse;
        let html = INDEX_TEMPLATE
            .replace("{{ASSET_VERSION}}", &asset_version())
            .replace("{{MODEL_VERSION}}", &escape_html(model.version()))
            .replace("{{CV_RMSE}}", &format!("{rmse:.2}"))
            .replace("{{CV_RMSE_DOLLARS}}", &dollars(rmse))
            .replace("{{MAX_UPLOAD_BYTES}}", &max_upload_bytes.to_string())
            .replace("{{MAX_UPLOAD_MIB}}", &(max_upload_bytes >> 20).to_string());
        Page { html }
    }

    /// The rendered HTML.
    pub fn html(&self) -> &str {
        &self.html
    }
}

/// `GET /`: the page. Revalidated on every visit, since it names the model being served.
pub async fn index(page: web::Data<Page>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(page.html.clone())
}

/// `GET /static/app.js`.
pub async fn app_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /static/style.css`.
pub async fn style_css() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(body)
}

/// A short FNV-1a hash of the assets: changes whenever they do.
fn asset_version() -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in APP_JS.bytes().chain(STYLE_CSS.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:012x}", hash >> 16)
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value in $1000s as whole dollars with thousands separators, e.g. `$3,120`.
fn dollars(thousands: f64) -> String {
    let whole = (thousands * 1000.0).round().abs() as u64;
    let digits = whole.to_string();
    let mut out = String::from(if thousands < 0.0 { "-$" } else { "$" });
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_model_and_has_no_placeholders_left() {
        let model = Model::embedded().unwrap();
        let page = Page::render(&model, 256 << 20);
        assert!(page.html().contains(&escape_html(model.version())));
        assert!(
            !page.html().contains("{{"),
            "a placeholder was left in the page"
        );
    }

    #[test]
    fn model_versions_are_escaped() {
        assert_eq!(
            escape_html("<b>\"x\"&'"),
            "&lt;b&gt;&quot;x&quot;&amp;&#39;"
        );
    }

    #[test]
    fn dollars_are_whole_with_separators() {
        assert_eq!(dollars(3.1234), "$3,123");
        assert_eq!(dollars(24.0), "$24,000");
        assert_eq!(dollars(1234.5678), "$1,234,568");
        assert_eq!(dollars(0.0), "$0");
    }
}
