package process

import (
	"slices"
	"testing"
)

func TestDefaultBaseEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{
			name: "only the base variables",
			env:  map[string]string{"PATH": "/bin", "HOME": "/root", "LANG": "C.UTF-8", "TMPDIR": "/tmp", "SLIPWAY_TOKEN": "secret"},
			want: []string{"PATH=/bin", "HOME=/root", "LANG=C.UTF-8", "TMPDIR=/tmp"},
		},
		{
			name: "PATH defaulted, unset ones left out",
			env:  map[string]string{"HOME": "/home/x"},
			want: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaultBaseEnv(func(k string) string { return tt.env[k] })
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChildEnv(t *testing.T) {
	tests := []struct {
		name    string
		base    []string
		environ map[string]string
		want    []string
	}{
		{
			name: "base, sorted environ, PORT",
			base: []string{"PATH=/bin", "HOME=/h"},
			environ: map[string]string{
				"B": "2", "A": "1", "EMPTY": "",
			},
			want: []string{"PATH=/bin", "HOME=/h", "A=1", "B=2", "EMPTY=", "PORT=8080"},
		},
		{
			name:    "environ overrides base in place",
			base:    []string{"PATH=/bin", "HOME=/h"},
			environ: map[string]string{"PATH": "/opt/bin"},
			want:    []string{"PATH=/opt/bin", "HOME=/h", "PORT=8080"},
		},
		{
			name:    "PORT always wins",
			environ: map[string]string{"PORT": "1"},
			want:    []string{"PORT=8080"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := childEnv(tt.base, tt.environ, 8080); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckEnviron(t *testing.T) {
	tests := []struct {
		environ map[string]string
		ok      bool
	}{
		{map[string]string{"A": "1", "B": ""}, true},
		{map[string]string{"": "1"}, false},
		{map[string]string{"A=B": "1"}, false},
		{map[string]string{"A": "x\x00y"}, false},
	}
	for _, tt := range tests {
		if err := checkEnviron(tt.environ); (err == nil) != tt.ok {
			t.Errorf("checkEnviron(%q) = %v, want ok %v", tt.environ, err, tt.ok)
		}
	}
}

func TestShellCommand(t *testing.T) {
	tests := []struct{ in, want string }{
		{"./hello", "exec ./hello"},
		{"  ./hello --port $PORT ", "exec ./hello --port $PORT"},
		{"exec ./hello", "exec ./hello"},
		{"./migrate && ./hello", "./migrate && ./hello"},
		{"./a; ./b", "./a; ./b"},
		{"./hello > out.log", "./hello > out.log"},
		{"(cd web && ./serve)", "(cd web && ./serve)"},
	}
	for _, tt := range tests {
		if got := shellCommand(tt.in); got != tt.want {
			t.Errorf("shellCommand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
