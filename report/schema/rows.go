package schema

import "time"

// The row types below are the report tables' schemas: the parquet tags
// name the columns (a contract with warehouse users) and fix their types;
// the CSV writer reads the same tags so both formats agree.
//
// Date, on the tables a day-partitioned set splits by date, is the row's
// routing date: the UTC date (midnight) of the requests the row counts.
// It is not a column (`parquet:"-"`): engines read it from the partition
// path, date=YYYY-MM-DD. Flat output leaves it zero.
//
// A column tagged optional is nullable: a zero time, or a nil pointer,
// is written as null (an empty CSV cell).

// WindowRow is one (key, limit, window) with at least one request; with
// day partitions, one (key, limit, window, date) with requests that date.
type WindowRow struct {
	Key         string    `parquet:"key,dict"`
	Plan        string    `parquet:"plan,dict"`
	LimitName   string    `parquet:"limit_name,dict"`
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	WindowEnd   time.Time `parquet:"window_end,timestamp(millisecond)"`
	Requests    int64     `parquet:"requests"`
	Date        time.Time `parquet:"-"`
}

// ViolationRow is one (key, limit, report bucket) in which the ideal
// gateway rejected requests and this limit was among those that
// rejected them; with day partitions, one (key, limit, bucket, date)
// with such rejections that date. For fixed limits the bucket is the
// limit's window; for the other algorithms it is the report interval (a
// UTC minute by default). The ideal gateway is the key's plan: a request
// is accepted only if every limit that counts it accepts it, and is then
// counted in all of them. Requests are the requests the limit counts,
// Allowed those the plan accepted, Excess those the plan rejected that
// this limit refused (a request several limits refused is in each one's
// Excess; Requests − Allowed − Excess were refused by other limits
// only). GatewayRejected is what the real gateway rejected among
// Requests; Caught is how many of Excess it rejected, Leaked =
// Excess − Caught (served though they should have been refused). Real
// rejections the plan does not justify are in the false_throttles table.
// Scope is "key", or "account" when Key holds an account.
// FirstExceeded is when the bucket first rejected a request (possibly on
// an earlier date than the row's), zero (null) if it has not.
type ViolationRow struct {
	Key             string    `parquet:"key,dict"`
	Plan            string    `parquet:"plan,dict"`
	LimitName       string    `parquet:"limit_name,dict"`
	Algorithm       string    `parquet:"algorithm,dict"`
	WindowStart     time.Time `parquet:"window_start,timestamp(millisecond)"`
	WindowEnd       time.Time `parquet:"window_end,timestamp(millisecond)"`
	Requests        int64     `parquet:"requests"`
	Allowed         int64     `parquet:"allowed"`
	Excess          int64     `parquet:"excess"`
	GatewayRejected int64     `parquet:"gateway_rejected"`
	Caught          int64     `parquet:"caught"`
	Leaked          int64     `parquet:"leaked"`
	Scope           string    `parquet:"scope,dict"`
	FirstExceeded   time.Time `parquet:"first_exceeded,optional,timestamp(millisecond)"`
	Date            time.Time `parquet:"-"`
}

// FalseThrottleRow is one (key, report bucket) in which the real gateway
// rejected requests that the key's plan accepts (false throttles); with
// day partitions, one (key, bucket, date). Requests are the key's
// requests in the bucket, Rejected those the plan (the ideal gateway)
// rejected, GatewayRejected those the real gateway rejected, and
// FalseThrottles = GatewayRejected − min(Rejected, GatewayRejected),
// reconciled instant by instant, once per request, whatever the number
// of limits.
type FalseThrottleRow struct {
	Key             string    `parquet:"key,dict"`
	Plan            string    `parquet:"plan,dict"`
	WindowStart     time.Time `parquet:"window_start,timestamp(millisecond)"`
	WindowEnd       time.Time `parquet:"window_end,timestamp(millisecond)"`
	Requests        int64     `parquet:"requests"`
	Rejected        int64     `parquet:"rejected"`
	GatewayRejected int64     `parquet:"gateway_rejected"`
	FalseThrottles  int64     `parquet:"false_throttles"`
	Date            time.Time `parquet:"-"`
}

// KeyRow sums one key over the whole run; with day partitions, over one
// date. Violations counts the key's rows in the violations table (of
// that date). Rejected, GatewayRejected, Caught, Leaked and
// FalseThrottles reconcile the key's plan (the ideal gateway) with the
// real gateway once per request: at each instant and request class,
// Caught = min(ideal rejections, real rejections), Leaked = Rejected −
// Caught, FalseThrottles = GatewayRejected − Caught (0 for a key with no
// plan). Per-account limits are not part of a key's plan here: their
// rejections are in the account's rows.
type KeyRow struct {
	// A run's keys are all distinct here (one row per key and date): a
	// dictionary would only copy them, so the column is plain-encoded.
	Key             string    `parquet:"key,plain"`
	Plan            string    `parquet:"plan,dict"` // empty: no plan and no default_plan
	Requests        int64     `parquet:"requests"`
	FirstSeen       time.Time `parquet:"first_seen,timestamp(millisecond)"`
	LastSeen        time.Time `parquet:"last_seen,timestamp(millisecond)"`
	Status2xx       int64     `parquet:"status_2xx"`
	Status3xx       int64     `parquet:"status_3xx"`
	Status4xx       int64     `parquet:"status_4xx"`
	Status5xx       int64     `parquet:"status_5xx"`
	Status429       int64     `parquet:"status_429"`
	BytesSent       int64     `parquet:"bytes_sent"`
	Violations      int64     `parquet:"violations"`
	Rejected        int64     `parquet:"rejected"`
	GatewayRejected int64     `parquet:"gateway_rejected"`
	Caught          int64     `parquet:"caught"`
	Leaked          int64     `parquet:"leaked"`
	FalseThrottles  int64     `parquet:"false_throttles"`
	Date            time.Time `parquet:"-"`
}

// UsageRow is one (key or account, date, calendar quota): what the
// key used of a quota of its plan as of the end of that date, as API
// providers bill and AWS usage plans report it. Requests and
// BillableRequests are the key's (or account's) requests that date,
// all of them and those whose status is billable (the policy's
// billable_status), repeated on every quota row of that date. Used is
// what the quota accepted from PeriodStart to the end of the date,
// Remaining max(0, Quota − Used). A key whose plan has no calendar
// quota has one row per date with LimitName empty and the quota
// columns null.
type UsageRow struct {
	// A key has a row per quota here, next to each other (a partition
	// holds one date): a dictionary of mostly distinct keys would only
	// copy them, so the column is plain-encoded.
	Key              string    `parquet:"key,plain"`
	Plan             string    `parquet:"plan,dict"`
	LimitName        string    `parquet:"limit_name,dict"`
	PeriodStart      time.Time `parquet:"period_start,optional,timestamp(millisecond)"`
	PeriodEnd        time.Time `parquet:"period_end,optional,timestamp(millisecond)"`
	Quota            *int64    `parquet:"quota,optional"`
	Requests         int64     `parquet:"requests"`
	BillableRequests int64     `parquet:"billable_requests"`
	Used             *int64    `parquet:"used,optional"`
	Remaining        *int64    `parquet:"remaining,optional"`
	Scope            string    `parquet:"scope,dict"`
	Date             time.Time `parquet:"-"`
}

// LimitRow defines one limit of one plan, for the rows that name it
// (violations, throttle_audit, usage, windows) to join by plan and
// limit_name: what the limit allows, so that a report needs no policy
// file beside it. Limit is the fixed or sliding limit (null for the
// other algorithms), Window its window as a policy file writes it
// ("1m", "24h", "1500ms", or a calendar period: "day", "week", "month",
// "year"), empty for the other algorithms. Rate is the token bucket's
// refill or nginx's rate in requests per second (null for fixed and
// sliding), Burst
// the bucket's capacity or nginx's burst (null for fixed and sliding).
// Scope is "key", or "account" for a per-account limit; Filter the
// requests it counts (methods, paths, excluded statuses; empty: all).
type LimitRow struct {
	Plan      string   `parquet:"plan,dict"`
	LimitName string   `parquet:"limit_name,dict"`
	Algorithm string   `parquet:"algorithm,dict"`
	Limit     *int64   `parquet:"limit,optional"`
	Window    string   `parquet:"window,dict"`
	Rate      *float64 `parquet:"rate,optional"`
	Burst     *int64   `parquet:"burst,optional"`
	Scope     string   `parquet:"scope,dict"`
	Filter    string   `parquet:"filter,dict"`
}
