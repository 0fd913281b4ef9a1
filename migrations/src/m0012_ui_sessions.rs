//! The dashboard's sign-in (issue 8): users' password hashes (argon2id, PHC strings) and
//! browser sessions. A session row is named by the SHA-256 of the cookie's secret, so the
//! table never holds a usable secret; it ends at sign-out, after 12 hours idle or 7 days.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserPasswords {
    Table,
    UserId,
    Hash,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UiSessions {
    Table,
    /// Hex SHA-256 of the cookie value.
    Id,
    UserId,
    TenantId,
    /// The API token the session was opened with (revoking it ends the session); none
    /// for a password sign-in.
    TokenId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserPasswords::Table)
                    .col(uuid(UserPasswords::UserId).primary_key())
                    .col(string(UserPasswords::Hash))
                    .col(timestamp_with_time_zone(UserPasswords::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UiSessions::Table)
                    .col(string(UiSessions::Id).primary_key())
                    .col(uuid(UiSessions::UserId))
                    .col(uuid_null(UiSessions::TenantId))
                    .col(uuid_null(UiSessions::TokenId))
                    .col(timestamp_with_time_zone(UiSessions::CreatedAt))
                    .col(timestamp_with_time_zone(UiSessions::LastSeenAt))
                    .col(timestamp_with_time_zone(UiSessions::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ui_sessions_user")
                    .table(UiSessions::Table)
                    .col(UiSessions::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UiSessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UserPasswords::Table).to_owned())
            .await
    }
}
