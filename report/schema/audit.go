package schema

// AuditRow sums one (key, limit) over the whole run: the violation
// columns totalled over every report bucket (Caught, Leaked and
// FalseThrottles are sums of the per-bucket values, so a throttle in one
// bucket never offsets an excess in another), the number of buckets with
// an excess, and the peak usage. Usage at an instant is the capacity held
// by requests the ideal gateway accepted earlier plus the requests
// arriving at that instant, as a fraction of the limit's capacity; a peak
// above 1 means some requests were rejected.
type AuditRow struct {
	Key             string  `parquet:"key,dict"`
	Plan            string  `parquet:"plan,dict"`
	LimitName       string  `parquet:"limit_name,dict"`
	Algorithm       string  `parquet:"algorithm,dict"`
	Requests        int64   `parquet:"requests"`
	Allowed         int64   `parquet:"allowed"`
	Excess          int64   `parquet:"excess"`
	Observed429     int64   `parquet:"observed_429"`
	Caught          int64   `parquet:"caught"`
	Leaked          int64   `parquet:"leaked"`
	FalseThrottles  int64   `parquet:"false_throttles"`
	ExceededBuckets int64   `parquet:"exceeded_buckets"`
	PeakUsage       float64 `parquet:"peak_usage"`
	Scope           string  `parquet:"scope,dict"`
}
