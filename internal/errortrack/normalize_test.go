package errortrack

import "testing"

func TestNormalizeMessage(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"  plain   text\n\tonly ", "plain text only"},
		{"payment 1234 for user 7f3c9a1e-2b4d-4c8e-9f10-aabbccddeeff failed after 3.5s",
			"payment <int> for user <uuid> failed after <float>s"},
		{"cache miss for key user:1234 after 250ms", "cache miss for key user:<int> after <int>ms"},
		{"UUID 7F3C9A1E-2B4D-4C8E-9F10-AABBCCDDEEFF upper", "UUID <uuid> upper"},
		{"pointer 0xc000123456 and 0x1F", "pointer <hex> and <hex>"},
		{"commit 3f2a1b9c4d5e6f708192a3b4c5d6e7f8091a2b3c", "commit <hex>"},
		{"id 12345678901 is all digits", "id <int> is all digits"},
		{"deadbeefcafe has no digit", "deadbeefcafe has no digit"},
		{"short hex ab12 stays partly", "short hex ab12 stays partly"},
		{"dial tcp 10.0.0.12:5432: connection refused", "dial tcp <ip>:<int>: connection refused"},
		{"from ::1 and fe80::1ff:fe23:4567:890a and 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "from <ip> and <ip> and <ip>"},
		{"std::vector<int> and Foo::bar stay", "std::vector<int> and Foo::bar stay"},
		{"mail bob.smith+x@example.co.uk now", "mail <email> now"},
		{"GET https://api.example.com/v1/users/42?x=1. Then", "GET <url>. Then"},
		{"(see http://example.com/a)", "(see <url>)"},
		{"at 2024-01-02T10:20:30.123Z and 2024-01-02 10:20 and 2024-01-02", "at <date> and <date> and <date>"},
		{"at 2024-01-02T10:20:30+01:00 and 10:20:30.5", "at <date> and <date>"},
		{`user "bob" not found in 'admins'`, "user <quoted> not found in <quoted>"},
		{"can't find user's file", "can't find user's file"},
		{`json {"a":1,"b":"x"}`, "json {<quoted>:<int>,<quoted>:<quoted>}"},
		{"version 1.2.3 of v2 and abc123", "version <float>.<int> of v2 and abc123"},
		{"took 1.5e3ms", "took <float>ms"},
		{"x=-5 y=+7", "x=-<int> y=+<int>"},
		{"line\nbreaks\r\nand\ttabs", "line breaks and tabs"},
		{"ünïcödé 42 ok", "ünïcödé <int> ok"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := NormalizeMessage(tt.in); got != tt.want {
				t.Errorf("NormalizeMessage(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}
