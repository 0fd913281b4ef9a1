//! What the pages show, as the server functions answer it (shared by both builds).

use serde::{Deserialize, Serialize};

/// Who is signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub email: String,
    pub role: String,
    pub tenant: String,
}

impl Viewer {
    /// Whether the role may change things (the server checks again on every write).
    pub fn can_write(&self) -> bool {
        matches!(self.role.as_str(), "owner" | "member")
    }
}

/// The tenant at a glance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub slots_busy: u32,
    pub slots_idle: u32,
    pub slots_booting: u32,
    pub queued_instances: u32,
    pub running_tasks: u32,
    /// Pools per state, in the order of the pool state machine; states with none left out.
    pub pools_by_state: Vec<StateCount>,
    /// What the tenant spent (`None`: the role does not read billing).
    pub spend: Option<Spend>,
    /// The tenant's newest events, newest first, at most [`Overview::FEED`].
    pub feed: Vec<FeedLine>,
}

impl Overview {
    pub const FEED: usize = 20;
}

/// Spend today and this month (UTC), against the first monthly budget if there is one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spend {
    pub today: String,
    pub month: String,
    pub currency: String,
    pub budget: Option<BudgetLine>,
}

/// One recent event of the tenant, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedLine {
    /// `HH:MM:SS` UTC.
    pub at: String,
    /// The event kind (`pool`, `node`, `taskProgress`, `instanceEnded`, `decision`,
    /// `budgetAlert`).
    pub kind: String,
    pub text: String,
    /// The page of what it is about.
    pub href: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCount {
    pub state: String,
    pub count: u32,
}

/// One line of the pools table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolRow {
    pub id: String,
    pub name: String,
    pub profile: String,
    pub state: String,
    pub tags: Vec<String>,
    pub slots_busy: u32,
    pub slots_total: u32,
    pub queued_instances: u32,
    pub active_policy: Option<String>,
    /// Cost since midnight UTC (exact decimal text; `None`: the role does not read billing).
    pub cost_today: Option<String>,
}

/// Which pools the table shows: `state` is `live` (still taking work), `ended`, or one
/// state's name; `tag` keeps those carrying it. Empty: all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolFilter {
    pub state: String,
    pub tag: String,
}

/// The pools page: the table, and what the "New pool" form offers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolList {
    pub rows: Vec<PoolRow>,
    /// The session may create pools (the server checks again).
    pub can_write: bool,
    pub profiles: Vec<ProfileChoice>,
    pub currency: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileChoice {
    pub name: String,
    pub max_slots_per_node: u32,
    /// Multi-slotting is open to this tenant (else one slot per node).
    pub multi_slot: bool,
}

/// The "New pool" form as submitted. `scaling` is `fixed` (`slots` slots) or `queue`
/// (between `min_slots` and `max_slots` following the queue, `min_idle` kept idle, a node
/// released after `idle_seconds`, ramp `factor`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewPool {
    pub name: String,
    pub profile: String,
    pub slots_per_node: u32,
    pub scaling: String,
    pub slots: u32,
    pub min_slots: u32,
    pub max_slots: u32,
    pub min_idle: u32,
    pub idle_seconds: u64,
    pub factor: f64,
    /// Comma-separated.
    pub tags: String,
}

/// Everything the pool page shows, read at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolPage {
    pub id: String,
    pub name: String,
    pub profile: String,
    pub state: String,
    pub slots_per_node: u32,
    /// Slots of the nodes that count toward capacity (booting, ready).
    pub slots_total: u32,
    /// What the latest scaling decision aims at (`None` before the first).
    pub target_slots: Option<u32>,
    pub queued_instances: u32,
    /// The policy enabled now, by name (`None`: unnamed, or none enabled).
    pub active_policy: Option<String>,
    /// The session may change this pool (the server checks again on every write).
    pub can_write: bool,
    /// The pool can still be closed (not closing, closed or failed).
    pub closable: bool,
    pub nodes: Vec<NodeTile>,
    /// Newest first, at most [`PoolPage::DECISIONS`].
    pub decisions: Vec<DecisionLine>,
    /// Its scaling policies in order (empty: none stored, the pool holds its size).
    pub policies: Vec<PolicyCard>,
    /// Target and actual slots over the last [`PoolPage::HISTORY_SECONDS`].
    pub history: SizeHistory,
}

impl PoolPage {
    /// Decisions the page lists (the API pages through all that are kept).
    pub const DECISIONS: usize = 50;
    /// The size chart spans the last hour.
    pub const HISTORY_SECONDS: u32 = 3600;
}

/// One node of the slot map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeTile {
    pub id: String,
    pub state: String,
    pub slots: Vec<SlotTile>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotTile {
    /// 0-based, as the agent numbers its slots.
    pub index: u32,
    /// What runs on it, if anything.
    pub work: Option<SlotWork>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotWork {
    pub task_id: String,
    pub task_name: String,
    pub instance_id: i32,
    /// Since the instance started, when the page was read (`None`: assigned, not started).
    pub running_seconds: Option<u64>,
}

/// One line of the scaling decisions timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionLine {
    pub id: String,
    /// When it was first reached, as `YYYY-MM-DD HH:MM:SS` UTC.
    pub at: String,
    /// `hold`, `grow N` (nodes), `shrink N`.
    pub action: String,
    /// The pool's slots when it was taken.
    pub from_slots: u32,
    pub target_slots: u32,
    pub reason: String,
    pub policy: Option<String>,
    /// How many evaluations reached it in a row.
    pub evaluations: i32,
}

impl DecisionLine {
    /// Whether it changed the pool's size (the "changes only" filter keeps these).
    pub fn is_change(&self) -> bool {
        !self.action.starts_with("hold")
    }
}

/// A task's instances by state, from its counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub total: u32,
    pub queued: u32,
    /// Assigned to a slot or executing.
    pub running: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub cancelled: u32,
}

/// Which tasks the list shows: `state` is `active`, `finished` or one state's name; `tag`
/// keeps those carrying it. Empty: all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFilter {
    pub state: String,
    pub tag: String,
}

/// One line of the tasks list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRow {
    pub id: String,
    pub name: String,
    pub pool_id: String,
    pub pool_name: String,
    pub state: String,
    pub tags: Vec<String>,
    /// `YYYY-MM-DD HH:MM:SS` UTC.
    pub created: String,
    pub tally: Tally,
}

/// The newest tasks matching a filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskList {
    /// Newest first, at most [`TaskList::ROWS`].
    pub rows: Vec<TaskRow>,
    /// More tasks match than are listed.
    pub more: bool,
}

impl TaskList {
    pub const ROWS: usize = 200;
}

/// Everything the task page shows, read at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPage {
    pub id: String,
    pub name: String,
    pub pool_id: String,
    pub pool_name: String,
    pub state: String,
    pub tags: Vec<String>,
    pub created: String,
    pub tally: Tally,
    /// The session may abort it (the server checks again).
    pub can_write: bool,
    /// Not finished yet, so an abort would change something.
    pub abortable: bool,
    /// The listed instances' first index among the task's (pages of [`TaskPage::INSTANCES`]).
    pub instances_from: u32,
    pub instances: Vec<InstanceRow>,
    /// The instance whose output is shown, if it exists.
    pub output: Option<OutputTail>,
}

impl TaskPage {
    pub const INSTANCES: usize = 100;
}

/// One line of the task page's instances table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRow {
    pub instance_id: i32,
    pub state: String,
    pub node: Option<String>,
    /// 0-based, as the agent numbers its slots.
    pub slot: Option<u32>,
    pub attempts: i32,
    pub exit_code: Option<i32>,
    pub started: Option<String>,
    /// From its start to its end, or to now while it runs.
    pub seconds: Option<u64>,
}

/// The newest output of one instance, and where the live stream resumes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTail {
    pub instance_id: i32,
    pub state: String,
    pub finished: bool,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Bytes each stream ever wrote (what the shown text ends at).
    pub stdout_end: i64,
    pub stderr_end: i64,
    /// Older output than the shown text exists (cut for the page, or no longer kept).
    pub stdout_cut: bool,
    pub stderr_cut: bool,
}

impl OutputTail {
    /// Bytes of each stream the page shows at most, the newest.
    pub const TAIL_BYTES: usize = 64 * 1024;
}

/// The settings page: the tenant's API tokens and users (owners only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Oldest first, at most [`Settings::ROWS`].
    pub tokens: Vec<TokenLine>,
    pub users: Vec<UserLine>,
}

impl Settings {
    pub const ROWS: usize = 200;
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenLine {
    pub id: String,
    pub name: String,
    pub role: String,
    /// The email of the user it acts for.
    pub user: String,
    pub created: String,
    pub expires: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLine {
    pub id: String,
    pub email: String,
    pub role: String,
    pub created: String,
}

/// A token just created: its secret, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub name: String,
    pub secret: String,
}

/// Which usage the billing page shows: days as `YYYY-MM-DD` (UTC), both inclusive; `by` is
/// `pool`, `profile` or `task`. Empty: this month so far, by pool.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingQuery {
    pub from: String,
    pub to: String,
    pub by: String,
}

/// The billing page: the period's cost by day and by what it was spent on, and the budgets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    /// The period as read: first and last day (UTC, inclusive) and the grouping.
    pub from: String,
    pub to: String,
    pub by: String,
    pub currency: String,
    /// The operator's report: every tenant's lines, each naming its tenant.
    pub every_tenant: bool,
    /// One per day of the period, oldest first.
    pub days: Vec<DayCost>,
    /// At most [`Billing::LINES`], in the report's order.
    pub lines: Vec<CostLine>,
    /// The report has more lines than listed (the downloads have them all).
    pub more: bool,
    pub totals: CostLine,
    /// The tenant's budgets (none in the operator's report).
    pub budgets: Vec<BudgetLine>,
    /// Periods one click away: (label, from, to).
    pub presets: Vec<(String, String, String)>,
    /// When the figures were read, `YYYY-MM-DD HH:MM:SS` UTC (open usage counts until then).
    pub read_at: String,
}

impl Billing {
    pub const LINES: usize = 500;
    pub const BUDGETS: usize = 50;
}

/// A day's busy and idle cost (exact decimal texts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCost {
    pub day: String,
    pub busy: String,
    pub idle: String,
}

/// One line of the billing table (exact decimal texts, as the API reports them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostLine {
    /// The pool's, profile's or task's name (`__idle__` for a pool's idle time by task).
    pub name: String,
    /// The pool a task line belongs to.
    pub pool: Option<String>,
    /// The tenant, in the operator's report.
    pub tenant: Option<String>,
    /// A pool's idle line (grouping by task).
    pub idle_line: bool,
    pub slot_seconds: String,
    pub busy_slot_seconds: String,
    pub idle_slot_seconds: String,
    pub busy_cost: String,
    pub idle_cost: String,
    pub cost: String,
}

/// A budget and where it stands in its current period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetLine {
    pub name: String,
    pub amount: String,
    pub consumed: String,
    pub remaining: String,
    pub forecast: String,
    pub currency: String,
    /// The current period's first and last instants, `YYYY-MM-DD HH:MM` UTC.
    pub period_from: String,
    pub period_to: String,
    pub spent: bool,
}

/// A pool's policies as the editor shows them, in their order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyCard {
    /// 0-based position: the first enabled one is active.
    pub index: u32,
    pub name: Option<String>,
    /// `Fixed` or `ManagedTasksQueue`.
    pub kind: String,
    /// Its figures in words ("4 slots", "2–16 slots, 1 idle, …").
    pub summary: String,
    /// It is the active policy now.
    pub active: bool,
    /// The week grid: how much of each hour its weekly periods enable, Monday 00:00 first,
    /// 7 × 24 cells.
    pub week: Vec<Cover>,
    /// Its one-off periods (date ranges), in words: they are not on the week grid.
    pub one_off: Vec<String>,
}

/// An edit of the week grid: hours `from_hour..to_hour` (0..=24) of `day` (0: Monday) of the
/// policy at `policy`, switched on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourRange {
    pub policy: u32,
    pub day: u32,
    pub from_hour: u32,
    pub to_hour: u32,
    pub on: bool,
}

/// How much of one hour of the week a policy is enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cover {
    None,
    Part,
    Full,
}

/// A line of the pool's size history: what the scaling aimed at and what it had.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeHistory {
    /// Seconds the chart spans, ending now.
    pub span_seconds: u32,
    /// `(seconds before now, slots)`, oldest first: each value holds until the next.
    pub target: Vec<(u32, u32)>,
    pub actual: Vec<(u32, u32)>,
}

/// One line of the jobs list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRow {
    pub id: String,
    pub name: String,
    pub state: String,
    pub pool_id: Option<String>,
    pub pool_name: Option<String>,
    pub tasks: u32,
    pub created: String,
}

/// The newest jobs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobList {
    /// Newest first, at most [`JobList::ROWS`].
    pub rows: Vec<JobRow>,
    pub more: bool,
}

impl JobList {
    pub const ROWS: usize = 200;
}

/// A job's page: its tasks in submission order, each with what it waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPage {
    pub id: String,
    pub name: String,
    pub state: String,
    pub pool_id: Option<String>,
    pub pool_name: Option<String>,
    pub use_dependencies: bool,
    pub created: String,
    pub can_write: bool,
    /// Still active, so terminating it would change something.
    pub terminable: bool,
    pub tally: Tally,
    /// At most [`JobPage::TASKS`].
    pub tasks: Vec<JobTask>,
    pub more_tasks: bool,
}

impl JobPage {
    pub const TASKS: usize = 500;
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTask {
    pub id: String,
    pub name: String,
    pub state: String,
    pub tally: Tally,
    /// The tasks it waits for: (uuid, name; empty when not among the listed ones).
    pub depends_on: Vec<(String, String)>,
}
