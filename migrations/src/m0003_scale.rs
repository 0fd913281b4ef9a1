//! What keeps the cost of one instance constant as tasks, pools and tenants grow:
//! per-task counters of instances by state (kept in the same transaction as each instance
//! change, so a task's state is derived without reading its instances), a dispatch index
//! that hands out the oldest dispatchable instances of a pool in one range scan, and
//! indexes for the per-node and per-instance lookups of the agent reports. Scaling
//! decisions get an evaluation count so that an unchanged evaluation updates the latest
//! row instead of adding one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    PoolId,
    QueuedCount,
    AssignedCount,
    ExecutingCount,
    SucceededCount,
    FailedCount,
    CancelledCount,
    RetriesUsed,
    Waiting,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    PoolId,
    NodeId,
    State,
    Held,
    TaskSeq,
    InstanceId,
}

#[derive(DeriveIden)]
enum InstanceExecutions {
    Table,
    InstanceRowId,
}

#[derive(DeriveIden)]
enum Pools {
    Table,
    GrownAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    MaxPools,
    MaxRunningSlots,
    MaxQueuedInstances,
}

#[derive(DeriveIden)]
enum ScalingDecisions {
    Table,
    PoolId,
    Seq,
    Evaluations,
    LastEvaluatedAt,
}

const TASK_COUNTERS: [(Tasks, &str); 6] = [
    (Tasks::QueuedCount, "Queued"),
    (Tasks::AssignedCount, "Assigned"),
    (Tasks::ExecutingCount, "Executing"),
    (Tasks::SucceededCount, "Succeeded"),
    (Tasks::FailedCount, "Failed"),
    (Tasks::CancelledCount, "Cancelled"),
];

async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: ColumnDef,
) -> Result<(), DbErr> {
    // One column per statement: SQLite's ALTER TABLE adds one at a time.
    manager
        .alter_table(
            Table::alter()
                .table(table)
                .add_column(column.to_owned())
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (column, _) in TASK_COUNTERS {
            add_column(manager, Tasks::Table, integer(column).default(0).take()).await?;
        }
        add_column(
            manager,
            Tasks::Table,
            integer(Tasks::RetriesUsed).default(0).take(),
        )
        .await?;
        add_column(
            manager,
            Tasks::Table,
            boolean(Tasks::Waiting).default(false).take(),
        )
        .await?;
        add_column(
            manager,
            Instances::Table,
            boolean(Instances::Held).default(false).take(),
        )
        .await?;
        add_column(
            manager,
            Instances::Table,
            big_integer(Instances::TaskSeq).default(0).take(),
        )
        .await?;
        add_column(
            manager,
            ScalingDecisions::Table,
            integer(ScalingDecisions::Evaluations).default(1).take(),
        )
        .await?;
        // Order within a pool: timestamps tie (an injected clock, two writes in one tick).
        add_column(
            manager,
            ScalingDecisions::Table,
            big_integer(ScalingDecisions::Seq).default(0).take(),
        )
        .await?;
        // Per-tenant quotas set by the operator; NULL is no limit.
        for column in [
            Tenants::MaxPools,
            Tenants::MaxRunningSlots,
            Tenants::MaxQueuedInstances,
        ] {
            add_column(manager, Tenants::Table, integer_null(column).take()).await?;
        }
        // When the pool last took a growth step: work arriving with no free slot grows the
        // pool at once, at most one step per resize period.
        add_column(
            manager,
            Pools::Table,
            timestamp_with_time_zone_null(Pools::GrownAt).take(),
        )
        .await?;
        add_column(
            manager,
            ScalingDecisions::Table,
            timestamp_with_time_zone_null(ScalingDecisions::LastEvaluatedAt).take(),
        )
        .await?;

        // Existing rows: counters from the instances, flags from the tasks.
        let db = manager.get_connection();
        for (column, state) in TASK_COUNTERS {
            let column = column.to_string();
            db.execute_unprepared(&format!(
                "UPDATE tasks SET {column} = (SELECT COUNT(*) FROM instances \
                 WHERE instances.task_id = tasks.id AND instances.state = '{state}')"
            ))
            .await?;
        }
        db.execute_unprepared(
            "UPDATE tasks SET retries_used = (SELECT COALESCE(SUM(CASE WHEN attempts > 1 \
             THEN attempts - 1 ELSE 0 END), 0) FROM instances WHERE instances.task_id = tasks.id)",
        )
        .await?;
        let waiting = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "dependencies->>'state' = 'waiting'",
            _ => "json_extract(dependencies, '$.state') = 'waiting'",
        };
        db.execute_unprepared(&format!(
            "UPDATE tasks SET waiting = COALESCE({waiting}, false)"
        ))
        .await?;
        db.execute_unprepared(
            "UPDATE instances SET task_seq = (SELECT seq FROM tasks WHERE tasks.id = instances.task_id), \
             held = (SELECT waiting FROM tasks WHERE tasks.id = instances.task_id)",
        )
        .await?;

        manager
            .drop_index(
                Index::drop()
                    .name("instances_pool_state")
                    .table(Instances::Table)
                    .to_owned(),
            )
            .await?;
        // Dispatch: `pool = ? AND state = 'Queued' AND NOT held ORDER BY task_seq, instance_id`.
        manager
            .create_index(
                Index::create()
                    .name("instances_dispatch")
                    .table(Instances::Table)
                    .col(Instances::PoolId)
                    .col(Instances::State)
                    .col(Instances::Held)
                    .col(Instances::TaskSeq)
                    .col(Instances::InstanceId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("instances_node_state")
                    .table(Instances::Table)
                    .col(Instances::NodeId)
                    .col(Instances::State)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("instance_executions_instance")
                    .table(InstanceExecutions::Table)
                    .col(InstanceExecutions::InstanceRowId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("scaling_decisions_pool_seq")
                    .table(ScalingDecisions::Table)
                    .col(ScalingDecisions::PoolId)
                    .col(ScalingDecisions::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tasks_waiting_pool")
                    .table(Tasks::Table)
                    .col(Tasks::Waiting)
                    .col(Tasks::PoolId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "instances_dispatch",
            "instances_node_state",
            "instance_executions_instance",
            "tasks_waiting_pool",
            "scaling_decisions_pool_seq",
        ] {
            manager
                .drop_index(Index::drop().name(name).to_owned())
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("instances_pool_state")
                    .table(Instances::Table)
                    .col(Instances::PoolId)
                    .col(Instances::State)
                    .to_owned(),
            )
            .await?;
        let drop = |table: DynIden, column: DynIden| {
            Table::alter().table(table).drop_column(column).to_owned()
        };
        let mut drops = vec![
            drop(Tasks::Table.into_iden(), Tasks::RetriesUsed.into_iden()),
            drop(Tasks::Table.into_iden(), Tasks::Waiting.into_iden()),
            drop(Instances::Table.into_iden(), Instances::Held.into_iden()),
            drop(Pools::Table.into_iden(), Pools::GrownAt.into_iden()),
            drop(Tenants::Table.into_iden(), Tenants::MaxPools.into_iden()),
            drop(
                Tenants::Table.into_iden(),
                Tenants::MaxRunningSlots.into_iden(),
            ),
            drop(
                Tenants::Table.into_iden(),
                Tenants::MaxQueuedInstances.into_iden(),
            ),
            drop(Instances::Table.into_iden(), Instances::TaskSeq.into_iden()),
            drop(
                ScalingDecisions::Table.into_iden(),
                ScalingDecisions::Evaluations.into_iden(),
            ),
            drop(
                ScalingDecisions::Table.into_iden(),
                ScalingDecisions::Seq.into_iden(),
            ),
            drop(
                ScalingDecisions::Table.into_iden(),
                ScalingDecisions::LastEvaluatedAt.into_iden(),
            ),
        ];
        for (column, _) in TASK_COUNTERS {
            drops.push(drop(Tasks::Table.into_iden(), column.into_iden()));
        }
        for statement in drops {
            manager.alter_table(statement).await?;
        }
        Ok(())
    }
}
