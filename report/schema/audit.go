package schema

import "time"

// AuditRow sums one (key, limit) over the whole run, or with day
// partitions over one date: the violation columns totalled over every
// report bucket (as in ViolationRow: Excess counts the plan's rejections
// this limit refused, Caught and Leaked split them), the number of
// buckets that first exceeded the limit (on that date), and the peak
// usage. Usage at an instant is the capacity held by requests the ideal
// gateway accepted earlier plus the requests arriving at that instant,
// as a percentage of the limit's capacity: 120 is 20% over the limit,
// and a peak above 100 means the limit refused some requests. Every
// column but PeakUsagePct adds up over dates; its maximum over dates is
// the run's.
type AuditRow struct {
	// A key has a row per limit and date here, next to each other: a
	// dictionary of mostly distinct keys would only copy them, so the
	// column is plain-encoded (zstd finds the repeats).
	Key             string    `parquet:"key,plain"`
	Plan            string    `parquet:"plan,dict"`
	LimitName       string    `parquet:"limit_name,dict"`
	Algorithm       string    `parquet:"algorithm,dict"`
	Requests        int64     `parquet:"requests"`
	Allowed         int64     `parquet:"allowed"`
	Excess          int64     `parquet:"excess"`
	GatewayRejected int64     `parquet:"gateway_rejected"`
	Caught          int64     `parquet:"caught"`
	Leaked          int64     `parquet:"leaked"`
	ExceededBuckets int64     `parquet:"exceeded_buckets"`
	PeakUsagePct    float64   `parquet:"peak_usage_pct"`
	Scope           string    `parquet:"scope,dict"`
	Date            time.Time `parquet:"-"`
}
