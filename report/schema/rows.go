package schema

import "time"

// The row types below are the report tables' schemas: the parquet tags
// name the columns (a contract with warehouse users) and fix their types;
// the CSV writer reads the same tags so both formats agree.

// WindowRow is one (key, limit, window) with at least one request.
type WindowRow struct {
	Key         string    `parquet:"key,dict"`
	LimitName   string    `parquet:"limit_name,dict"`
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	WindowEnd   time.Time `parquet:"window_end,timestamp(millisecond)"`
	Requests    int64     `parquet:"requests"`
}

// ViolationRow is one (key, limit, report bucket) in which the ideal
// gateway or the real one rejected requests. For fixed limits the bucket
// is the limit's window; for the other algorithms it is the report
// interval (a UTC minute by default). Allowed is what the ideal gateway
// accepted and Excess what it rejected (Requests = Allowed + Excess);
// Observed429 is what the real gateway rejected, Caught = min(Excess,
// Observed429), Leaked = Excess − Caught, FalseThrottles = Observed429 −
// Caught. Scope is "key", or "account" when Key holds an account.
type ViolationRow struct {
	Key            string    `parquet:"key,dict"`
	Plan           string    `parquet:"plan,dict"`
	LimitName      string    `parquet:"limit_name,dict"`
	Algorithm      string    `parquet:"algorithm,dict"`
	WindowStart    time.Time `parquet:"window_start,timestamp(millisecond)"`
	WindowEnd      time.Time `parquet:"window_end,timestamp(millisecond)"`
	Requests       int64     `parquet:"requests"`
	Allowed        int64     `parquet:"allowed"`
	Excess         int64     `parquet:"excess"`
	Observed429    int64     `parquet:"observed_429"`
	Caught         int64     `parquet:"caught"`
	Leaked         int64     `parquet:"leaked"`
	FalseThrottles int64     `parquet:"false_throttles"`
	Scope          string    `parquet:"scope,dict"`
}

// KeyRow sums one key over the whole run.
type KeyRow struct {
	Key        string    `parquet:"key,dict"`
	Plan       string    `parquet:"plan,dict"` // empty: no plan and no default_plan
	Requests   int64     `parquet:"requests"`
	FirstSeen  time.Time `parquet:"first_seen,timestamp(millisecond)"`
	LastSeen   time.Time `parquet:"last_seen,timestamp(millisecond)"`
	Status2xx  int64     `parquet:"status_2xx"`
	Status3xx  int64     `parquet:"status_3xx"`
	Status4xx  int64     `parquet:"status_4xx"`
	Status5xx  int64     `parquet:"status_5xx"`
	Status429  int64     `parquet:"status_429"`
	BytesSent  int64     `parquet:"bytes_sent"`
	Violations int64     `parquet:"violations"`
}
