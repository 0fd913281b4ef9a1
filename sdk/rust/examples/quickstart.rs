//! Create a pool, run a task of a few instances on it, wait for it, print what each
//! instance wrote, close the pool.
//!
//! ```sh
//! HEARTH_URL=http://127.0.0.1:8080 HEARTH_TOKEN=$(cat DATA_DIR/owner.token) \
//!     cargo run -p hearth-client --example quickstart
//! ```
//!
//! (Without `HEARTH_URL`/`HEARTH_TOKEN` it uses the profile `hearth login` saved.)

use std::process::ExitCode;
use std::time::{Duration, Instant};

use hearth_client::{Client, Error};

#[tokio::main]
async fn main() -> ExitCode {
    match quickstart().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn quickstart() -> Result<(), Error> {
    let client = Client::from_env()?;
    println!("hearth at {}", client.url());

    let pool = client
        .pools()
        .create("quickstart", "docker-batch")
        .slots(2)
        .tag("quickstart")
        .send()
        .await?;
    println!("pool {} created", pool.uuid());

    let result = run(&client, &pool).await;
    // Close the pool whatever happened: its nodes cost while they run.
    let closed = pool.close().await?;
    println!("pool {}", closed.state);
    result
}

async fn run(client: &Client, pool: &hearth_client::PoolHandle) -> Result<(), Error> {
    let task = client
        .tasks()
        .create("hello")
        .pool(pool)
        .instances(4)
        .command("echo \"hello from instance $INSTANCE_ID of $INSTANCE_COUNT on $(hostname)\"")
        .send()
        .await?;
    println!("task {} submitted, waiting…", task.uuid());

    let started = Instant::now();
    let done = task.wait_until_done(Duration::from_secs(300)).await?;
    println!(
        "task {} after {:.1} s ({} instances)",
        done.state,
        started.elapsed().as_secs_f64(),
        done.instance_count
    );
    for instance in 0..done.instance_count as u32 {
        print!("[{instance}] {}", task.stdout().instance(instance).await?);
    }
    let errors = task.stderr().await?;
    if !errors.is_empty() {
        eprint!("stderr:\n{errors}");
    }
    Ok(())
}
