//! The API's errors, mapped once, here, to GraphQL errors with a stable `extensions.code` and
//! to HTTP responses. Internal errors are logged in full and answered as "internal error".

use async_graphql::ErrorExtensions;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use campaigns::Diagnostic;
use serde_json::json;

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A campaign spec (or other input) broke its rules; every problem is listed.
    #[error("invalid campaign spec: {}", summary(.0))]
    Validation(Vec<Diagnostic>),
    /// One argument is wrong: which, and why.
    #[error("{field}: {reason}")]
    BadRequest {
        /// The argument or field.
        field: String,
        /// Why.
        reason: String,
    },
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// Contradicts what is stored (a taken key, an illegal lifecycle transition).
    #[error("{0}")]
    Conflict(String),
    /// A limit was exceeded (events per request, body size...).
    #[error("{0}")]
    LimitExceeded(String),
    /// No credentials, or invalid ones.
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials that do not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// Too many requests from one key (or client): retry after this many seconds.
    #[error("rate limit exceeded: retry after {0} s")]
    RateLimited(u64),
    /// The server cannot take the request now: it is shutting down, or its storage cannot
    /// take writes (a full disk, a lost database). Nothing of the request was kept; send it
    /// again later (`Retry-After`).
    #[error("{0}")]
    Unavailable(String),
    /// A configuration that could not be loaded, at start-up: which setting, from where, and
    /// why. Never an answer to a request.
    #[error("configuration: {0}")]
    Config(String),
    /// Anything else; the details are logged, not returned.
    #[error("internal error")]
    Internal(String),
}

/// How long a client should wait before sending again what a 503 refused.
const UNAVAILABLE_RETRY_SECONDS: u64 = 5;

/// The API's result type.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

fn summary(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// A bad argument.
    pub fn bad(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest { .. } => "VALIDATION",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::LimitExceeded(_) | ApiError::RateLimited(_) => "LIMIT_EXCEEDED",
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::Unavailable(_) => "UNAVAILABLE",
            ApiError::Config(_) | ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The HTTP status an error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::LimitExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Config(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body of an HTTP error answer: `{"error": {"code", "message", ...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = json!({ "code": self.code(), "message": self.to_string() });
        match self {
            ApiError::Validation(ds) => error["diagnostics"] = json!(ds),
            ApiError::BadRequest { field, .. } => error["field"] = json!(field),
            _ => {}
        }
        json!({ "error": error })
    }
}

impl From<engine::Error> for ApiError {
    fn from(e: engine::Error) -> Self {
        match e {
            engine::Error::Spec(ds) => ApiError::Validation(ds.0),
            engine::Error::NotFound(m) => ApiError::NotFound(m),
            engine::Error::Conflict(m) => ApiError::Conflict(m),
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::Internal(other.to_string())
            }
        }
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::Engine(e) => ApiError::from(e),
            store::Error::Stopped => ApiError::Unavailable("the server is shutting down".into()),
            store::Error::Connect { .. } => ApiError::Unavailable(e.to_string()),
            store::Error::Unavailable(_) => {
                tracing::error!(error = %e, "storage unavailable");
                ApiError::Unavailable(e.to_string())
            }
            store::Error::Unstorable(_) => ApiError::bad(
                "",
                format!("{e}; remove NUL characters (U+0000) from its text"),
            ),
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::Internal(other.to_string())
            }
        }
    }
}

impl From<campaigns::EventError> for ApiError {
    /// An argument refused by the event rules (an id, a customer's attributes): its field.
    fn from(e: campaigns::EventError) -> Self {
        ApiError::bad(e.field, e.reason)
    }
}

impl From<campaigns::Diagnostics> for ApiError {
    fn from(ds: campaigns::Diagnostics) -> Self {
        ApiError::Validation(ds.0)
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", self.code());
            match self {
                ApiError::Validation(ds) => {
                    let list: Vec<async_graphql::Value> = ds
                        .iter()
                        .map(|d| {
                            async_graphql::Value::from_json(json!({
                                "path": d.path,
                                "code": d.code,
                                "message": d.message,
                                "line": d.position.map(|p| p.line),
                                "column": d.position.map(|p| p.column),
                            }))
                            .unwrap_or_default()
                        })
                        .collect();
                    e.set("diagnostics", async_graphql::Value::List(list));
                }
                ApiError::BadRequest { field, .. } => e.set("field", field.as_str()),
                _ => {}
            }
        })
    }
}

/// A storage (or engine) result as a GraphQL one, through the one mapping above.
pub trait EngineResultExt<T> {
    /// The value, or the error as a GraphQL error with its `extensions.code`.
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> EngineResultExt<T> for store::Result<T> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| ApiError::from(e).extend())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.to_json())).into_response();
        let retry_after = match self {
            ApiError::RateLimited(seconds) => Some(seconds),
            ApiError::Unavailable(_) => Some(UNAVAILABLE_RETRY_SECONDS),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
