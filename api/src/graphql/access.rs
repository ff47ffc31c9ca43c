//! The access check every resolver makes first.

use crate::auth::{Access, Principal};
use async_graphql::{Context, ErrorExtensions, Result};

/// Allowed, or the `UNAUTHORIZED` / `FORBIDDEN` error that says why not. A request without a
/// principal (a schema used outside the server) is anonymous.
pub fn allow(ctx: &Context<'_>, access: Access<'_>) -> Result<()> {
    principal(ctx).may(access).map_err(|e| e.extend())
}

/// Who is asking.
pub fn principal<'a>(ctx: &'a Context<'_>) -> &'a Principal {
    ctx.data_opt::<Principal>().unwrap_or(&Principal::Anonymous)
}
