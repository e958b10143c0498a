"""The marts: SQL views over the facts, one definition per dialect, created by migrations.

Views, not tables refreshed by the load: they are always consistent with the facts (no refresh
step that can lag or fail), the load stays the only writer, and one SQL text serves both
dialects through a few fragments (date arithmetic, the month, a timestamp's local date).
Daily deltas come from the lifetime counters: each snapshot's change since the one before is
spread evenly, in whole numbers that add up exactly, over the days it covers (see
``docs/marts.md``). The column documentation lives in ``warehouse/mart_columns.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DELTAS = ("views", "reach", "likes", "comments", "shares", "saves")
INTERACTIONS = ("likes", "comments", "shares", "saves")


@dataclass(frozen=True)
class Sql:
    """The fragments that differ between SQLite and PostgreSQL."""

    dialect: str

    def add_days(self, expr: str, days: int) -> str:
        """A date plus a whole number of days."""
        if self.dialect == "sqlite":
            return f"date({expr}, '{days:+d} days')"
        return f"({expr} + {days})"

    def days_between(self, later: str, earlier: str) -> str:
        """Whole days from earlier to later (an integer)."""
        if self.dialect == "sqlite":
            return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
        return f"({later} - {earlier})"

    def month(self, expr: str) -> str:
        """The first day of the month of a date."""
        if self.dialect == "sqlite":
            return f"date({expr}, 'start of month')"
        return f"CAST(date_trunc('month', {expr}) AS DATE)"

    def local_date(self, ts: str, zone: str) -> str:
        """The date of a UTC timestamp in a time zone (SQLite: offsets from time_zone_offset)."""
        if self.dialect == "sqlite":
            offset = (
                f"(SELECT z.utc_offset_seconds FROM time_zone_offset z WHERE z.timezone = {zone} "
                f"AND z.valid_from <= {ts} AND z.valid_until > {ts})"
            )
            return f"date({ts}, COALESCE({offset}, 0) || ' seconds')"
        return f"CAST({ts} AT TIME ZONE {zone} AS DATE)"


def rate(numerator: str, denominator: str) -> str:
    """A ratio as double precision; NULL when the denominator is NULL or 0."""
    return f"CAST({numerator} AS DOUBLE PRECISION) / NULLIF({denominator}, 0)"


def interactions(prefix: str = "", suffix: str = "") -> str:
    """Sum of the interaction counters a platform reports; NULL when it reports none."""
    cols = [f"{prefix}{name}{suffix}" for name in INTERACTIONS]
    summed = " + ".join(f"COALESCE({c}, 0)" for c in cols)
    return f"CASE WHEN COALESCE({', '.join(cols)}) IS NULL THEN NULL ELSE {summed} END"


def followers_basis(platform: str, channel: str, day: str) -> str:
    """Followers observed on day, else the latest before it, else the earliest after it."""
    base = (
        "SELECT f.followers FROM channel_metrics_daily f WHERE f.platform = {p} "
        "AND f.channel_id = {c} AND f.followers IS NOT NULL AND f.snapshot_date {op} {d} "
        "ORDER BY f.snapshot_date {order} LIMIT 1"
    )
    before = base.format(p=platform, c=channel, d=day, op="<=", order="DESC")
    after = base.format(p=platform, c=channel, d=day, op=">", order="ASC")
    return f"COALESCE(({before}), ({after}))"


def rates(total: str, followers: str, reach: str, views: str) -> str:
    """The three engagement-rate columns, each named by its denominator."""
    return (
        f"{rate(total, followers)} AS engagement_rate_by_followers, "
        f"{rate(total, reach)} AS engagement_rate_by_reach, "
        f"{rate(total, views)} AS engagement_rate_by_views"
    )


def calendar(sql: Sql, source: str) -> str:
    """A recursive CTE ``calendar(day)``: every day from the least start to the greatest end."""
    return (
        f"calendar(day) AS (SELECT MIN(period_start) FROM {source} UNION ALL "
        f"SELECT {sql.add_days('day', 1)} FROM calendar "
        f"WHERE day < (SELECT MAX(period_end) FROM {source}))"
    )


def spread(sql: Sql, metric: str) -> str:
    """Day k of n's whole-number share of an interval's change; the shares add up exactly."""
    k = f"({sql.days_between('c.day', 'i.period_start')} + 1)"
    return f"(i.{metric} * {k}) / i.period_days - (i.{metric} * ({k} - 1)) / i.period_days"


def spread_cte(sql: Sql, keys: tuple[str, ...], metrics: tuple[str, ...]) -> str:
    """``intervals`` (deltas summed per key and period) and ``spread`` (per key and day)."""
    key_list = ", ".join(keys)
    sums = ", ".join(f"CAST(SUM({m}_delta) AS BIGINT) AS {m}" for m in metrics)
    shares = ", ".join(f"CAST(SUM({spread(sql, m)}) AS BIGINT) AS {m}_delta" for m in metrics)
    i_keys = ", ".join(f"i.{k}" for k in keys)
    return (
        f"intervals AS (SELECT {key_list}, period_start, period_end, period_days, {sums}, "
        "MAX(CASE WHEN delta_basis = 'backfill' THEN 1 ELSE 0 END) AS backfill "
        f"FROM deltas GROUP BY {key_list}, period_start, period_end, period_days), "
        f"{calendar(sql, 'intervals')}, "
        f"spread AS (SELECT {i_keys}, c.day, {shares}, MAX(i.period_days) AS span_days, "
        "MAX(i.backfill) AS backfill FROM intervals i "
        "JOIN calendar c ON c.day BETWEEN i.period_start AND i.period_end "
        f"GROUP BY {i_keys}, c.day)"
    )


def delta_basis() -> str:
    """How a day's deltas were obtained: observed, spread, backfill; NULL = no deltas."""
    return (
        "CASE WHEN sp.day IS NULL THEN NULL WHEN sp.backfill = 1 THEN 'backfill' "
        "WHEN sp.span_days > 1 THEN 'spread' ELSE 'observed' END"
    )


def content_dates(sql: Sql) -> str:
    """mart_content_dates: each content item with its channel-local publication date and month."""
    local = sql.local_date("c.published_at", "ch.timezone")
    return (
        "SELECT d.platform, d.content_id, d.channel_id, d.handle, d.content_type, d.published_at, "
        f"d.published_date, {sql.month('d.published_date')} AS publish_month FROM ("
        "SELECT c.platform, c.content_id, c.channel_id, ch.handle, c.content_type, c.published_at, "
        f"{local} AS published_date FROM content c JOIN channel ch "
        "ON ch.platform = c.platform AND ch.channel_id = c.channel_id) d"
    )


def content_deltas(sql: Sql) -> str:
    """mart_content_deltas: per content snapshot, the change since the previous one."""
    lags = ", ".join(f"LAG(m.{m}) OVER w AS prev_{m}" for m in DELTAS)
    deltas = ", ".join(
        f"CASE WHEN prev_date IS NULL THEN {m} ELSE {m} - prev_{m} END AS {m}_delta" for m in DELTAS
    )
    start = (
        f"CASE basis WHEN 'interval' THEN {sql.add_days('prev_date', 1)} "
        "WHEN 'backfill' THEN COALESCE(published_date, snapshot_date) "
        "WHEN 'first' THEN CASE WHEN published_date < snapshot_date "
        "THEN published_date ELSE snapshot_date END END"
    )
    end = "CASE basis WHEN 'backfill' THEN COALESCE(published_date, snapshot_date) ELSE snapshot_date END"
    return (
        "WITH snaps AS (SELECT m.platform, m.content_id, m.channel_id, m.snapshot_date, "
        f"{', '.join('m.' + m for m in DELTAS)}, LAG(m.snapshot_date) OVER w AS prev_date, {lags} "
        "FROM content_metrics_daily m "
        "WINDOW w AS (PARTITION BY m.platform, m.content_id ORDER BY m.snapshot_date)), "
        "tracking AS (SELECT platform, channel_id, MIN(snapshot_date) AS tracking_start "
        "FROM content_metrics_daily GROUP BY platform, channel_id), "
        "placed AS (SELECT s.*, d.published_date, CASE WHEN s.prev_date IS NOT NULL THEN 'interval' "
        "WHEN d.published_date IS NULL OR d.published_date < t.tracking_start THEN 'backfill' "
        "ELSE 'first' END AS basis FROM snaps s "
        "JOIN tracking t ON t.platform = s.platform AND t.channel_id = s.channel_id "
        "LEFT JOIN mart_content_dates d ON d.platform = s.platform AND d.content_id = s.content_id), "
        f"periods AS (SELECT placed.*, {start} AS period_start, {end} AS period_end, {deltas} "
        "FROM placed) "
        "SELECT platform, content_id, channel_id, snapshot_date, published_date, basis AS delta_basis, "
        f"period_start, period_end, {sql.days_between('period_end', 'period_start')} + 1 AS period_days, "
        f"{', '.join(m + '_delta' for m in DELTAS)}, {interactions(suffix='_delta')} AS interactions_delta "
        "FROM periods"
    )


def content_performance(sql: Sql) -> str:
    """mart_content_performance: per content item, latest metrics, age, rates and rank."""
    metrics = ", ".join(f"l.{m}" for m in DELTAS)
    basis = followers_basis("d.platform", "d.channel_id", "l.snapshot_date")
    return (
        "WITH latest AS (SELECT m.*, ROW_NUMBER() OVER (PARTITION BY m.platform, m.content_id "
        "ORDER BY m.snapshot_date DESC) AS rn FROM content_metrics_daily m), "
        "perf AS (SELECT d.platform, d.content_id, d.channel_id, d.handle, d.content_type, "
        "d.published_at, d.published_date, d.publish_month, c.title, c.caption, c.url, "
        f"l.snapshot_date AS latest_snapshot_date, "
        f"{sql.days_between('l.snapshot_date', 'd.published_date')} AS age_days, {metrics}, "
        f"{interactions('l.')} AS interactions, {basis} AS followers_basis "
        "FROM mart_content_dates d JOIN content c ON c.platform = d.platform AND c.content_id = d.content_id "
        "LEFT JOIN latest l ON l.platform = d.platform AND l.content_id = d.content_id AND l.rn = 1) "
        "SELECT perf.*, "
        f"{rates('interactions', 'followers_basis', 'reach', 'views')}, "
        "RANK() OVER (PARTITION BY platform, channel_id, publish_month "
        "ORDER BY interactions DESC NULLS LAST) AS rank_in_channel_month FROM perf"
    )


CHANNEL_METRICS = ("views", "likes", "comments", "shares", "saves")


def channel_spine(sql: Sql) -> str:
    """``posts``, ``bounds``, ``days`` and ``spine``: a row per channel and day, to the newest day."""
    return (
        "posts AS (SELECT platform, channel_id, published_date, COUNT(*) AS n FROM mart_content_dates "
        "WHERE published_date IS NOT NULL GROUP BY platform, channel_id, published_date), "
        "bounds AS (SELECT platform, channel_id, MIN(d) AS first_day, MAX(d) AS last_day FROM ("
        "SELECT platform, channel_id, snapshot_date AS d FROM channel_metrics_daily "
        "UNION ALL SELECT platform, channel_id, day FROM spread "
        "UNION ALL SELECT platform, channel_id, published_date FROM posts) b GROUP BY platform, channel_id), "
        "days(day) AS (SELECT MIN(first_day) FROM bounds UNION ALL "
        f"SELECT {sql.add_days('day', 1)} FROM days WHERE day < (SELECT MAX(last_day) FROM bounds)), "
        "spine AS (SELECT b.platform, b.channel_id, d.day FROM bounds b JOIN days d ON d.day >= b.first_day)"
    )


def follower_changes(sql: Sql) -> str:
    """``fobs`` and ``fchange``: each change of followers, spread over the days since the last count."""
    k = sql.days_between("c.day", "o.prev_date")
    n = sql.days_between("o.snapshot_date", "o.prev_date")
    return (
        "fobs AS (SELECT platform, channel_id, snapshot_date, followers - LAG(followers) OVER fw AS change, "
        "LAG(snapshot_date) OVER fw AS prev_date FROM channel_metrics_daily WHERE followers IS NOT NULL "
        "WINDOW fw AS (PARTITION BY platform, channel_id ORDER BY snapshot_date)), "
        f"fchange AS (SELECT o.platform, o.channel_id, c.day, "
        f"(o.change * {k}) / {n} - (o.change * ({k} - 1)) / {n} AS followers_change "
        "FROM fobs o JOIN days c ON c.day > o.prev_date AND c.day <= o.snapshot_date)"
    )


def _on(alias: str, day: str = "day") -> str:
    """Join condition of a per-channel-and-day CTE to the spine ``s``."""
    return f"{alias}.platform = s.platform AND {alias}.channel_id = s.channel_id AND {alias}.{day} = s.day"


def channel_daily(sql: Sql) -> str:
    """mart_channel_daily: per channel and day, followers, posts, spread deltas and rates."""
    deltas = ", ".join(f"sp.{m}_delta" for m in CHANNEL_METRICS)
    deltas += f", {interactions('sp.', '_delta')} AS interactions_delta"
    return (
        "WITH RECURSIVE deltas AS (SELECT * FROM mart_content_deltas), "
        f"{spread_cte(sql, ('platform', 'channel_id'), CHANNEL_METRICS)}, {channel_spine(sql)}, "
        f"{follower_changes(sql)}, "
        "seen AS (SELECT DISTINCT platform, channel_id, snapshot_date FROM content_metrics_daily), "
        "daily AS (SELECT s.platform, s.channel_id, ch.handle, s.day, "
        f"{sql.days_between('(SELECT MAX(last_day) FROM bounds)', 's.day')} AS days_before_latest, "
        f"a.followers, {followers_basis('s.platform', 's.channel_id', 's.day')} AS followers_basis, "
        f"fc.followers_change, COALESCE(p.n, 0) AS posts_published, {deltas}, "
        "a.reach AS account_reach, a.views AS account_views, "
        "CASE WHEN o.snapshot_date IS NULL THEN 0 ELSE 1 END AS content_observed, "
        f"{delta_basis()} AS delta_basis FROM spine s "
        "JOIN channel ch ON ch.platform = s.platform AND ch.channel_id = s.channel_id "
        f"LEFT JOIN channel_metrics_daily a ON {_on('a', 'snapshot_date')} "
        f"LEFT JOIN posts p ON {_on('p', 'published_date')} LEFT JOIN spread sp ON {_on('sp')} "
        f"LEFT JOIN fchange fc ON {_on('fc')} LEFT JOIN seen o ON {_on('o', 'snapshot_date')}) "
        "SELECT daily.*, "
        f"{rates('interactions_delta', 'followers_basis', 'account_reach', 'views_delta')} FROM daily"
    )


def median(source: str, column: str, keys: str) -> str:
    """A portable median of column per keys: the middle value, or the mean of the middle two."""
    return (
        f"(SELECT {keys}, AVG(v) AS median FROM (SELECT {keys}, {column} AS v, "
        f"ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY {column}) AS rn, "
        f"COUNT(*) OVER (PARTITION BY {keys}) AS n FROM {source} WHERE {column} IS NOT NULL) r "
        f"WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY {keys})"
    )


RATE_NAMES = ("followers", "reach", "views")


def platform_monthly(sql: Sql) -> str:
    """mart_platform_monthly: per platform and publication month, posts, totals and median rates."""
    totals = ", ".join(f"CAST(SUM({m}) AS BIGINT) AS {m}" for m in (*DELTAS, "interactions"))
    joins = " ".join(
        f"LEFT JOIN {median('posts', f'engagement_rate_by_{r}', 'platform, month')} m_{r} "
        f"ON m_{r}.platform = t.platform AND m_{r}.month = t.month"
        for r in RATE_NAMES
    )
    medians = ", ".join(f"m_{r}.median AS median_engagement_rate_by_{r}" for r in RATE_NAMES)
    return (
        "WITH posts AS (SELECT p.*, p.publish_month AS month FROM mart_content_performance p "
        "WHERE p.publish_month IS NOT NULL), "
        "totals AS (SELECT platform, month, COUNT(DISTINCT channel_id) AS channels, "
        f"COUNT(*) AS posts_published, {totals} FROM posts GROUP BY platform, month) "
        f"SELECT t.*, {medians} FROM totals t {joins}"
    )


CAMPAIGN_METRICS = DELTAS


def campaign_daily(sql: Sql) -> str:
    """mart_campaign_daily: per campaign, channel and day, reach, views, interactions, rates."""
    keys = ("campaign_name", "platform", "channel_id")
    deltas = ", ".join(f"sp.{m}_delta" for m in CAMPAIGN_METRICS)
    deltas += f", {interactions('sp.', '_delta')} AS interactions_delta"
    join = "x.campaign_name = k.campaign_name AND x.platform = k.platform AND x.channel_id = k.channel_id"
    return (
        "WITH RECURSIVE deltas AS (SELECT cc.campaign_name, d.* FROM campaign_content cc "
        "JOIN mart_content_deltas d ON d.platform = cc.platform AND d.content_id = cc.content_id), "
        f"{spread_cte(sql, keys, CAMPAIGN_METRICS)}, "
        "posts AS (SELECT cc.campaign_name, d.platform, d.channel_id, d.published_date AS day, "
        "COUNT(*) AS n FROM campaign_content cc JOIN mart_content_dates d ON d.platform = cc.platform "
        "AND d.content_id = cc.content_id WHERE d.published_date IS NOT NULL "
        "GROUP BY cc.campaign_name, d.platform, d.channel_id, d.published_date), "
        "keyed AS (SELECT campaign_name, platform, channel_id, day FROM spread UNION "
        "SELECT campaign_name, platform, channel_id, day FROM posts), "
        "daily AS (SELECT k.campaign_name AS campaign, k.platform, k.channel_id, ch.handle, k.day, "
        f"COALESCE(p.n, 0) AS posts_published, {deltas}, "
        f"{followers_basis('k.platform', 'k.channel_id', 'k.day')} AS followers_basis, "
        f"{delta_basis()} AS delta_basis FROM keyed k "
        "JOIN channel ch ON ch.platform = k.platform AND ch.channel_id = k.channel_id "
        f"LEFT JOIN posts p ON {join.replace('x.', 'p.')} AND p.day = k.day "
        f"LEFT JOIN spread sp ON {join.replace('x.', 'sp.')} AND sp.day = k.day) "
        "SELECT daily.*, "
        f"{rates('interactions_delta', 'followers_basis', 'reach_delta', 'views_delta')} FROM daily"
    )


# Creation order: each view only reads tables and the views before it.
VIEW_SQL: dict[str, Callable[[Sql], str]] = {
    "mart_content_dates": content_dates,
    "mart_content_deltas": content_deltas,
    "mart_content_performance": content_performance,
    "mart_channel_daily": channel_daily,
    "mart_platform_monthly": platform_monthly,
    "mart_campaign_daily": campaign_daily,
}


def create_view_statements(dialect: str) -> list[str]:
    """CREATE VIEW statements for every mart, in dependency order."""
    sql = Sql(dialect)
    return [f"CREATE VIEW {name} AS {build(sql)}" for name, build in VIEW_SQL.items()]


def drop_view_statements() -> list[str]:
    """DROP VIEW statements for every mart, dependants first."""
    return [f"DROP VIEW IF EXISTS {name}" for name in reversed(VIEW_SQL)]
