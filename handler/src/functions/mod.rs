//! One module per function: its declaration (bindings) and its handler, side by side, so
//! the generated function.json and the code that relies on it cannot drift apart.

pub mod housekeeping;
pub mod job_status;
pub mod predict;
pub mod queue_upload;
pub mod score_job;
pub mod score_upload;
pub mod submit_job;

use functions_custom_handler::HttpRequest;
use house_price::api::ApiError;

/// The request body, or the API error for a body the host could not have sent us intact.
///
/// The host hands bodies over as they came (ASP.NET Core decodes no request body), so a
/// compressed one is refused here, by the same rule as the web app's.
pub(crate) fn body(req: &HttpRequest) -> Result<&[u8], ApiError> {
    house_price::api::check_content_encoding(req.header("content-encoding"))?;
    Ok(&req.body)
}
