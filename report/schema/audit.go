package schema

import "time"

// AuditRow sums one (key, limit) over the whole run, or with day
// partitions over one date: the violation columns totalled over every
// report bucket (Caught, Leaked and FalseThrottles are sums of the
// per-bucket values, so a throttle in one bucket never offsets an
// excess in another), the number of buckets that first exceeded their
// limit (on that date), and the peak usage. Usage at an instant is the
// capacity held by requests the ideal gateway accepted earlier plus the
// requests arriving at that instant, as a fraction of the limit's
// capacity; a peak above 1 means some requests were rejected. Every
// column but PeakUsage adds up over dates; PeakUsage's maximum over
// dates is the run's.
type AuditRow struct {
	Key             string    `parquet:"key,dict"`
	Plan            string    `parquet:"plan,dict"`
	LimitName       string    `parquet:"limit_name,dict"`
	Algorithm       string    `parquet:"algorithm,dict"`
	Requests        int64     `parquet:"requests"`
	Allowed         int64     `parquet:"allowed"`
	Excess          int64     `parquet:"excess"`
	GatewayRejected int64     `parquet:"gateway_rejected"`
	Caught          int64     `parquet:"caught"`
	Leaked          int64     `parquet:"leaked"`
	FalseThrottles  int64     `parquet:"false_throttles"`
	ExceededBuckets int64     `parquet:"exceeded_buckets"`
	PeakUsage       float64   `parquet:"peak_usage"`
	Scope           string    `parquet:"scope,dict"`
	Date            time.Time `parquet:"-"`
}
