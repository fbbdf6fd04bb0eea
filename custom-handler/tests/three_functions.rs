//! Three small functions as a new app would write them (an HTTP hello, a queue message
//! written to a blob, a timer), run through the test client. `docs/benchmarks.md` counts the
//! lines between `counted: begin` and `counted: end`.

use functions_custom_handler::bindings::{
    AuthLevel, BlobOutput, HttpOutput, HttpTrigger, QueueTrigger, TimerTrigger,
};
use functions_custom_handler::events::TimerInfo;
use functions_custom_handler::testing::{Event, TestClient};
use functions_custom_handler::{
    Function, FunctionApp, HttpRequest, HttpResponse, Invocation, InvocationError, Outputs,
    service_fn,
};

// counted: begin
const HELLO: HttpTrigger = HttpTrigger::get("req", "hello").auth(AuthLevel::Anonymous);
const RES: HttpOutput = HttpOutput::new("res");
const NOTE: QueueTrigger = QueueTrigger::new("note", "notes");
const SAVED: BlobOutput = BlobOutput::new("saved", "notes/{rand-guid}.txt");
const TICK: TimerTrigger = TimerTrigger::new("tick", "0 */5 * * * *");

async fn hello(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let req = inv.trigger(&HELLO)?;
    let name = req.query.get("name").map_or("world", String::as_str);
    Ok(Outputs::new().set(&RES, HttpResponse::new(200).text(format!("hello, {name}"))))
}

async fn save(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let note = inv.trigger(&NOTE)?;
    Ok(Outputs::new().set(&SAVED, note.body))
}

async fn tick(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let timer = inv.trigger(&TICK)?;
    inv.log(
        log::Level::Info,
        format!("tick, past due: {}", timer.is_past_due),
    );
    Ok(Outputs::new())
}

fn app() -> FunctionApp {
    FunctionApp::new()
        .function(
            Function::new("hello")
                .trigger(HELLO)
                .output(RES)
                .handler(service_fn(hello)),
        )
        .function(
            Function::new("save")
                .trigger(NOTE)
                .output(SAVED)
                .handler(service_fn(save)),
        )
        .function(
            Function::new("tick")
                .trigger(TICK)
                .handler(service_fn(tick)),
        )
}
// counted: end

#[actix_web::test]
async fn three_small_functions_run_through_the_test_client() {
    let client = TestClient::new(app()).unwrap();
    let mut request = HttpRequest::new("GET", "http://localhost/api/hello?name=ada");
    request.query.insert("name".into(), "ada".into());
    let hello = client.invoke("hello", Event::http(&HELLO, request)).await;
    assert_eq!(
        hello.http(&RES).unwrap().body.as_deref(),
        Some(&b"hello, ada"[..])
    );

    let saved = client.invoke("save", Event::queue(&NOTE, "buy milk")).await;
    assert_eq!(saved.blob(&SAVED).unwrap(), "buy milk");
    // A note the host could not have sent (a number, not text) fails: retried, then kept.
    let broken = Event::from_slice(br#"{"Data": {"note": 7}, "Metadata": {}}"#).unwrap();
    assert!(client.invoke("save", broken).await.failure().is_some());

    let ticked = client
        .invoke("tick", Event::timer(&TICK, TimerInfo::default()))
        .await;
    assert_eq!(ticked.logs(), ["[INFO] tick, past due: false"]);
}
