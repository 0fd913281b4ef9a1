//! `hearth users set-password`: a client of `PUT /users/{uuid}/password`, so the server's
//! rules (owner only, length, ending the user's sessions) apply as for any caller. The
//! password is read from standard input, never from the command line (which `ps` shows).

use anyhow::{Context, bail};
use hearth_api::Page;
use hearth_api::accounts::{PasswordBody, User};

pub struct SetPassword {
    pub server: String,
    pub token: String,
    pub email: String,
    pub password: String,
}

/// Finds the user by email among the token's tenant's users, then sets the password.
pub async fn set_password(args: SetPassword) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let base = args.server.trim_end_matches('/');
    let email = args.email.trim().to_lowercase();
    let mut page_token: Option<String> = None;
    let user = loop {
        let mut url = format!("{base}/users?limit=500");
        if let Some(t) = &page_token {
            url.push_str("&pageToken=");
            url.extend(form_urlencoded::byte_serialize(t.as_bytes()));
        }
        let answer = http
            .get(url)
            .bearer_auth(&args.token)
            .send()
            .await
            .context("reaching the server")?;
        if !answer.status().is_success() {
            bail!(
                "GET /users answered {}: {}",
                answer.status(),
                answer.text().await?
            );
        }
        let page: Page<User> = answer.json().await.context("reading GET /users")?;
        if let Some(u) = page.items.into_iter().find(|u| u.email == email) {
            break u;
        }
        match page.next_page_token {
            Some(t) => page_token = Some(t),
            None => bail!("no user '{email}' in this token's tenant"),
        }
    };
    let answer = http
        .put(format!("{base}/users/{}/password", user.uuid))
        .bearer_auth(&args.token)
        .json(&PasswordBody {
            password: Some(args.password),
        })
        .send()
        .await
        .context("reaching the server")?;
    if !answer.status().is_success() {
        bail!(
            "PUT /users/{}/password answered {}: {}",
            user.uuid,
            answer.status(),
            answer.text().await?
        );
    }
    Ok(())
}
