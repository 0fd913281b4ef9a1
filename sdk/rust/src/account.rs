//! The account around the resources: the profile catalogue, the caller's account summary,
//! the server's health, and the tenant's API tokens (owner).

use std::time::Duration;

use hearth_api::accounts::{LoginBody, Token, TokenBody, TokenCreated};
use hearth_api::platform::Health;
use hearth_api::profiles::Profile;
use hearth_api::qarnot::account::UserInfo;
use uuid::Uuid;

use crate::HasUuid;
use crate::client::{Call, Client, segment};
use crate::error::Result;
use crate::listing::pages;
use crate::paged::Paged;

impl Client {
    /// Signs in with a user's email and dashboard password (`POST /auth/token`, no token
    /// needed) and answers a new API token of the user's role, named `login: NAME`, valid
    /// 30 days. A login under a name the user already has replaces that name's token.
    /// Refusals are [`crate::Error::Api`] with status 401; repeated ones are slowed down by
    /// the server. The call is not retried (a retry would sign in twice).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let created = hearth_client::Client::login(
    ///     "http://127.0.0.1:8080",
    ///     "ada@example.com",
    ///     "correct horse battery staple",
    ///     "laptop",
    /// )
    /// .await?;
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", created.token)?;
    /// # let _ = client;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn login(
        url: impl Into<String>,
        email: &str,
        password: &str,
        token_name: &str,
    ) -> Result<TokenCreated> {
        let anonymous = Client::anonymous(url)
            .retry(crate::RetryPolicy::none())
            .build()?;
        let body = LoginBody {
            email: Some(email.to_owned()),
            password: Some(password.to_owned()),
            name: Some(token_name.to_owned()),
            expires_in_seconds: None,
        };
        anonymous.json(Call::post("/auth/token").json(&body)?).await
    }

    /// The names of the profiles pools can be made of (e.g. `docker-batch`).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// assert!(client.profiles().await?.contains(&"docker-batch".to_owned()));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn profiles(&self) -> Result<Vec<String>> {
        self.json(Call::get("/profiles")).await
    }

    /// One profile: cores, memory, price per slot-hour, most slots per node, constants.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let p = client.profile("docker-batch").await?;
    /// println!("{} per slot-hour, up to {} slots a node", p.price_per_slot_hour, p.max_slots_per_node);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn profile(&self, name: &str) -> Result<Profile> {
        self.json(Call::get(format!("/profiles/{}", segment(name))))
            .await
    }

    /// The caller's account (Qarnot's `GET /info`): counts, limits (-1: none), the
    /// launcher's capacity.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let info = client.info().await?;
    /// println!("{} pools, {} running instances", info.pool_count, info.running_instance_count);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn info(&self) -> Result<UserInfo> {
        self.json(Call::get("/info")).await
    }

    /// `GET /health` (no token needed; a 503 when the database is unreachable).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// assert_eq!(client.health().await?.status, "ok");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn health(&self) -> Result<Health> {
        self.json(Call::get("/health")).await
    }

    /// The tenant's API tokens (owner tokens only).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "OWNER_TOKEN")?;
    /// let ci = client.tokens().create("ci", "member").send().await?;
    /// println!("secret: {}", ci.token);
    /// # Ok(())
    /// # }
    /// ```
    pub fn tokens(&self) -> Tokens {
        Tokens {
            client: self.clone(),
        }
    }
}

/// The tenant's API tokens (owner).
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// use futures_util::TryStreamExt;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "OWNER_TOKEN")?;
/// for t in client.tokens().list().try_collect::<Vec<_>>().await? {
///     println!("{} {} revoked={}", t.name, t.role, t.revoked);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Tokens {
    client: Client,
}

impl Tokens {
    /// A new token named `name` with `role` (`owner`, `member`, `viewer` or `billing`),
    /// created by [`TokenBuilder::send`].
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "OWNER_TOKEN")?;
    /// let viewer = client.tokens().create("dashboard-tv", "viewer").send().await?;
    /// # let _ = viewer;
    /// # Ok(())
    /// # }
    /// ```
    pub fn create(&self, name: impl Into<String>, role: impl Into<String>) -> TokenBuilder {
        TokenBuilder {
            client: self.client.clone(),
            body: TokenBody {
                name: Some(name.into()),
                role: Some(role.into()),
                ..TokenBody::default()
            },
        }
    }

    /// Every token of the tenant (without secrets), in creation order.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "OWNER_TOKEN")?;
    /// let tokens: Vec<_> = client.tokens().list().try_collect().await?;
    /// # let _ = tokens;
    /// # Ok(())
    /// # }
    /// ```
    pub fn list(&self) -> Paged<Token> {
        pages(&self.client, "/tokens".into(), Vec::new(), None)
    }

    /// Revokes the token `id`: it answers 401 from then on.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "OWNER_TOKEN")?;
    /// client.tokens().revoke(id).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn revoke(&self, id: impl HasUuid) -> Result<()> {
        self.client
            .empty(Call::delete(format!("/tokens/{}", id.uuid())))
            .await
    }
}

/// A token being made; [`TokenBuilder::send`] creates it.
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// use std::time::Duration;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "OWNER_TOKEN")?;
/// let t = client
///     .tokens()
///     .create("one-day", "member")
///     .expires_in(Duration::from_secs(86_400))
///     .send()
///     .await?;
/// # let _ = t;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a token is created by send()"]
pub struct TokenBuilder {
    client: Client,
    body: TokenBody,
}

impl TokenBuilder {
    /// The token expires after this long (whole seconds; default: never).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tokens().create("t", "viewer").expires_in(std::time::Duration::from_secs(60));
    /// # let _ = b;
    /// ```
    pub fn expires_in(mut self, lifetime: Duration) -> TokenBuilder {
        self.body.expires_in_seconds = Some(lifetime.as_secs().min(i64::MAX as u64) as i64);
        self
    }

    /// The user of the tenant the token acts for (default: the caller's).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tokens().create("t", "viewer").user(uuid::Uuid::nil());
    /// # let _ = b;
    /// ```
    pub fn user(mut self, user: Uuid) -> TokenBuilder {
        self.body.user_uuid = Some(user.to_string());
        self
    }

    /// Creates the token; its secret (`token`) is shown only in this answer.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "OWNER_TOKEN")?;
    /// let created = client.tokens().create("ci", "member").send().await?;
    /// let ci = hearth_client::Client::new(client.url(), created.token)?;
    /// # let _ = ci;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(self) -> Result<TokenCreated> {
        self.client
            .json(Call::post("/tokens").json(&self.body)?)
            .await
    }
}

impl HasUuid for Token {
    fn uuid(&self) -> Uuid {
        self.uuid
    }
}

impl HasUuid for TokenCreated {
    fn uuid(&self) -> Uuid {
        self.token_info.uuid
    }
}
