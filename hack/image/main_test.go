package main

import (
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePlatforms(t *testing.T) {
	cases := []struct {
		name, in string
		want     []v1.Platform
		wantErr  string
	}{
		{name: "make image's default", in: "linux/amd64,linux/arm64", want: []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}},
		{name: "host", in: "host", want: []v1.Platform{{OS: "linux", Architecture: runtime.GOARCH}}},
		{name: "spaces", in: " linux/arm64 , host", want: []v1.Platform{{OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: runtime.GOARCH}}},
		{name: "not linux", in: "windows/amd64", wantErr: `platform "windows/amd64": want linux/ARCH (e.g. linux/amd64) or host`},
		{name: "no architecture", in: "linux", wantErr: `platform "linux": want linux/ARCH (e.g. linux/amd64) or host`},
		{name: "empty", in: "", wantErr: `platform "": want linux/ARCH (e.g. linux/amd64) or host`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePlatforms(tc.in)
			if tc.wantErr != "" {
				assert.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
