package parse

import "testing"

// parserSamples pairs each parser with a typical line of its format.
func parserSamples(t testing.TB) []struct {
	name string
	p    LineParser
	line []byte
} {
	w3c := NewW3C()
	var rec Record
	w3c.Parse([]byte("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes cs-bytes time-taken"), &rec)
	layout, err := CompileLayout(`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$http_x_api_key"`)
	if err != nil {
		t.Fatal(err)
	}
	// The layout of the real-nginx check (scripts/nginxcheck): three
	// times and the request's duration, as an exact audit logs them.
	nginxAudit, err := CompileLayout(`$remote_addr [$time_local] "$request" $status $body_bytes_sent "$http_x_api_key" $msec $request_time $time_iso8601 $limit_req_status pid=$pid conn=$connection`)
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		name string
		p    LineParser
		line []byte
	}{
		{"combined", Combined{}, benchCombinedLine},
		{"common", Common{}, []byte(`in24.inetnebr.com - - [01/Aug/1995:00:00:01 -0400] "GET /shuttle/missions/sts-68/news/sts-68-mcc-05.txt?api_key=k HTTP/1.0" 200 1839`)},
		{"combined_xff", Combined{}, []byte(`example.com 10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "GET /ocelot?api_key=k HTTP/1.1" 200 571 "-" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:49.0) Gecko/20100101 Firefox/49.0"`)},
		{"json_caddy", NewJSONLines(nil, []string{"http_x_api_key"}), []byte(`{"level":"info","ts":1716723772.6014807,"logger":"http.log.access.log17","msg":"handled request","request":{"remote_ip":"10.5.1.1","remote_port":"38574","client_ip":"10.10.10.117","proto":"HTTP/2.0","method":"GET","host":"mirrors.tnonline.net:400","uri":"/gentoo/distfiles/9b/tl.tar.xz?api_key=k","headers":{"Accept":["*/*"],"User-Agent":["facebookexternalhit/1.1"],"X-Api-Key":["hk"]}},"bytes_read":0,"user_id":"","duration":0.017557019,"size":3768,"status":200}`)},
		{"json_nginx", NewJSONLines(nil, nil), []byte(`{"time_local":"01/Nov/2026:00:00:00 +0000","remote_addr":"10.189.244.185","request":"POST /v2/orders?page=13&api_key=k875927a73dce3caf HTTP/1.1","status":200,"body_bytes_sent":6099,"http_referer":"-","http_user_agent":"Go-http-client/1.1","request_time":0.012}`)},
		{"w3c", w3c, []byte(`2015-01-13 00:32:17 100.79.192.81 GET /robots.txt api_key=k 80 - 157.55.39.146 Mozilla/5.0+(compatible;+bingbot/2.0;++http://www.bing.com/bingbot.htm) - 404 0 2 1405 242 283`)},
		{"alb", ALB{}, []byte(`https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/?api_key=k HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-"`)},
		{"haproxy", HAProxy{}, []byte(`Feb 25 16:19:49 192.168.4.2 haproxy[7]: 141.35.244.171:53332 [25/Feb/2019:16:19:48.143] prod_http_in~ bk_admin/nginx_sonst 0/0/7/1457/1487 200 11394 - - ---- 2/1/0/0/0 0/0 {Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:65.0)} {} "GET /admin/colt/administration?api_key=k HTTP/1.1"`)},
		{"log_format", layout, []byte(`1.2.3.4 - bob [10/Oct/2000:13:55:36 -0700] "GET /x?api_key=k HTTP/1.1" 200 512 "-" "curl/8.0 (x86_64-pc-linux-gnu)" 0.005 "hk"`)},
		{"log_format_nginx_audit", nginxAudit, []byte(`127.0.0.1 [26/Nov/2026:10:15:08 +0000] "GET /slow?seq=1234 HTTP/1.1" 200 43 "k_slow_bursty" 1795688108.984 0.377 2026-11-26T10:15:08+00:00 PASSED pid=4242 conn=17`)},
	}
}

// TestParsersDoNotAllocate: once warm, no parser allocates per line.
func TestParsersDoNotAllocate(t *testing.T) {
	for _, s := range parserSamples(t) {
		var rec Record
		if err := s.p.Parse(s.line, &rec); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if n := testing.AllocsPerRun(100, func() { s.p.Parse(s.line, &rec) }); n != 0 {
			t.Errorf("%s: %.1f allocations per line", s.name, n)
		}
	}
}

func BenchmarkParsers(b *testing.B) {
	for _, s := range parserSamples(b) {
		b.Run(s.name, func(b *testing.B) {
			var rec Record
			b.SetBytes(int64(len(s.line)))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.p.Parse(s.line, &rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
