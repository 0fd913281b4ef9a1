//! Indexes for the resize loop's reads: the pools due for an evaluation (and the earliest
//! due time it sleeps until), and the pools winding down, without scanning every pool.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pools {
    Table,
    NextEvaluationAt,
    State,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("pools_next_evaluation")
                    .table(Pools::Table)
                    .col(Pools::NextEvaluationAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("pools_state")
                    .table(Pools::Table)
                    .col(Pools::State)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["pools_next_evaluation", "pools_state"] {
            manager
                .drop_index(Index::drop().name(name).table(Pools::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}
