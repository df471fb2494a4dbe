package parse

import (
	"strconv"
	"time"
)

// appendCombined appends rec to dst as a combined log line, in UTC, with
// "-" for the ident (which a Record does not keep) and for absent values.
// It is the inverse of Combined.Parse for everything a Record holds:
// re-parsing the result gives the same record. Times outside the years
// 0000-9999 cannot be written in CLF and come out unparseable.
func appendCombined(dst []byte, rec *Record) []byte {
	if v := rec.Field("vhost"); len(v) > 0 {
		dst = append(append(dst, v...), ' ')
	}
	dst = appendOrDash(dst, rec.RemoteAddr)
	dst = append(dst, " - "...)
	dst = appendOrDash(dst, rec.User)
	dst = append(dst, " ["...)
	dst = time.UnixMilli(rec.TimeMillis).UTC().AppendFormat(dst, "02/Jan/2006:15:04:05 +0000")
	dst = append(dst, `] "`...)
	if rec.HasRequest {
		dst = append(append(append(dst, rec.Method...), ' '), rec.Target...)
		// A target with spaces needs the separator even without a
		// protocol, or its last word would be read as one.
		if len(rec.Proto) > 0 || indexByte(rec.Target, ' ') >= 0 {
			dst = append(append(dst, ' '), rec.Proto...)
		}
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, `" `...)
	if rec.Status < 100 {
		dst = append(dst, '0')
		if rec.Status < 10 {
			dst = append(dst, '0')
		}
	}
	dst = strconv.AppendInt(dst, int64(rec.Status), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, rec.Bytes, 10)
	dst = append(dst, ' ')
	dst = appendQuotedOrDash(dst, rec.Referer)
	dst = append(dst, ' ')
	return appendQuotedOrDash(dst, rec.UserAgent)
}

func appendOrDash(dst, v []byte) []byte {
	if len(v) == 0 {
		return append(dst, '-')
	}
	return append(dst, v...)
}

func appendQuotedOrDash(dst, v []byte) []byte {
	if v == nil {
		return append(dst, '-')
	}
	return append(append(append(dst, '"'), v...), '"')
}
