//! The page for people and its assets, as served (the browser test drives it for real).

use crate::helpers::spawn_app;

async fn page() -> String {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-cache");
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_page_has_the_six_inputs_prefilled_with_the_first_data_row() {
    let html = page().await;
    for (name, value) in [
        ("CHAS", "0"),
        ("RM", "6.575"),
        ("TAX", "296"),
        ("PTRATIO", "15.3"),
        ("B", "396.9"),
        ("LSTAT", "4.98"),
    ] {
        assert!(
            html.contains(&format!(r#"<label for="{name}">"#)),
            "no label for {name}"
        );
        let input = format!(r#"<input id="{name}" name="{name}" type="number""#);
        let start = html
            .find(&input)
            .unwrap_or_else(|| panic!("no input {name}"));
        let tag = &html[start..start + html[start..].find('>').unwrap()];
        assert!(tag.contains(&format!(r#"value="{value}""#)), "{tag}");
    }
    for id in [
        "predict-button",
        "price",
        "batch-csv",
        "batch-button",
        "batch-background",
        "job-status",
        "batch-table",
    ] {
        assert!(html.contains(&format!(r#"id="{id}""#)), "no element #{id}");
    }
}

#[tokio::test]
async fn the_page_shows_the_model_version_and_its_cross_validated_rmse() {
    let html = page().await;
    let model = house_price::Model::embedded().unwrap();
    assert!(html.contains(&format!(
        r#"<code id="model-version">{}</code>"#,
        model.version()
    )));
    let rmse = model.artifact().training.cross_validation.rmse;
    assert!(
        html.contains(&format!(r#"data-rmse="{rmse:.2}""#)),
        "no RMSE"
    );
}

#[tokio::test]
async fn the_page_loads_only_its_own_assets_and_nothing_inline() {
    let html = page().await.to_ascii_lowercase();
    // The CSP forbids inline scripts, inline styles and other origins: keep the page within it.
    assert!(!html.contains("<style"), "inline stylesheet");
    assert!(!html.contains(" style="), "inline style attribute");
    assert!(!html.contains("javascript:"), "javascript: URL");
    for handler in [" onclick=", " onload=", " onsubmit=", " oninput="] {
        assert!(!html.contains(handler), "inline handler {handler}");
    }
    let scripts: Vec<&str> = html
        .match_indices("<script")
        .map(|(i, _)| &html[i..])
        .collect();
    assert_eq!(scripts.len(), 1);
    assert!(scripts[0].starts_with(r#"<script src="/static/app.js?v="#));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src=\"//"));
    assert!(html.contains(r#"<link rel="stylesheet" href="/static/style.css?v="#));
}

#[tokio::test]
async fn static_assets_are_served_with_their_content_types_and_long_caching() {
    let app = spawn_app().await;
    for (path, content_type, needle) in [
        (
            "/static/app.js",
            "text/javascript; charset=utf-8",
            "securitypolicyviolation",
        ),
        ("/static/style.css", "text/css; charset=utf-8", "#price"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{path}"
        );
        assert!(response.text().await.unwrap().contains(needle), "{path}");
    }
    // Long caching is safe because the page links the assets by a hash of their content.
    let html = app.get("/").await.text().await.unwrap();
    let version = |asset: &str| {
        let start = html.find(&format!("{asset}?v=")).unwrap() + asset.len() + 3;
        html[start..start + html[start..].find('"').unwrap()].to_owned()
    };
    assert_eq!(version("/static/app.js"), version("/static/style.css"));
    assert!(version("/static/app.js").len() >= 8);
}
