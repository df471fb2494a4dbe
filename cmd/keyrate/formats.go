package main

import "github.com/keyrate/keyrate/parse/parquetlog"

// openParquet reads --format parquet inputs (and Parquet files found by
// --format auto).
var openParquet = parquetlog.Open
