//! The session middleware's own failures as pages.
//!
//! When the store is down or hung while the session is written, the session middleware returns an
//! error, not a response, and that error would pass every middleware by as an empty 500. The two
//! middleware here, one on each side of the session middleware, turn it into the 503 page in the
//! visitor's language, inside the security headers. (A store that cannot be *read* gives the
//! request a session marked unavailable, and the extractors answer 503 themselves.)

use std::cell::RefCell;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse};

use crate::error_page::error_page;
use crate::i18n::ErrorText;

/// Where the request is kept for the error page: the error of the session middleware comes
/// without it, and an error page needs it (the visitor's language, the template).
#[derive(Clone, Default)]
struct RequestSlot(Rc<RefCell<Option<HttpRequest>>>);

/// Outside the session middleware: an error of it becomes the 503 page ("try again in a
/// moment"); the store has logged the cause. Use with `actix_web::middleware::from_fn`.
pub async fn store_errors_as_pages<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let slot = RequestSlot::default();
    req.extensions_mut().insert(slot.clone());
    let result = next.call(req).await;
    // Taken out in every case: the request must not keep itself alive.
    let request = slot.0.borrow_mut().take();
    match (result, request) {
        (Ok(res), _) => Ok(res.map_into_left_body()),
        (Err(_), Some(request)) => Ok(unavailable_page(request)),
        (Err(error), None) => Err(error),
    }
}

/// Inside the session middleware: keeps the request for [`store_errors_as_pages`] once routing is
/// done (routing needs it unshared, so it cannot be kept earlier). Use with
/// `actix_web::middleware::from_fn`.
pub async fn keep_request<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let res = next.call(req).await?;
    if let Some(slot) = res.request().extensions().get::<RequestSlot>() {
        *slot.0.borrow_mut() = Some(res.request().clone());
    }
    Ok(res)
}

/// The 503 page for a session store that failed.
fn unavailable_page<B>(request: HttpRequest) -> ServiceResponse<EitherBody<B>> {
    let mut response = HttpResponse::ServiceUnavailable().finish();
    response.extensions_mut().insert(ErrorText::SessionUnavailable);
    error_page(ServiceResponse::new(request, response))
        .map_into_boxed_body()
        .map_into_right_body()
}
