package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionOfABuild(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, c := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{nil, "dev"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs("656afc7a6710fa8e", "false")}, "v1.4.0"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202025802-656afc7a6710+dirty"}}, "v0.0.0-20261202025802-656afc7a6710+dirty"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("656afc7a6710fa8e3c6a", "false")}, "dev+656afc7a6710"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("656afc7a6710fa8e3c6a", "true")}, "dev+656afc7a6710-dirty"},
	} {
		if got := versionOf(c.bi); got != c.want {
			t.Errorf("versionOf(%+v) = %q, want %q", c.bi, got, c.want)
		}
	}
}
