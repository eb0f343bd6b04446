package store_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

func mustAddUser(t *testing.T, s *store.Store, name, role string) store.Token {
	t.Helper()
	u, tok, err := s.AddUser(t.Context(), "root", name, role, "first", "hash-"+name)
	if err != nil {
		t.Fatalf("AddUser(%s): %v", name, err)
	}
	if u.Name != name || u.Role != role || u.Tokens != 1 || u.Disabled || tok.User != name || tok.Name != "first" || tok.ID == 0 {
		t.Fatalf("AddUser(%s) = %+v, %+v", name, u, tok)
	}
	return tok
}

func mustUser(t *testing.T, s *store.Store, name string) store.User {
	t.Helper()
	u, err := s.User(t.Context(), name)
	if err != nil {
		t.Fatalf("User(%s): %v", name, err)
	}
	return u
}

// lastEvent returns the newest audit event as "actor action target outcome: detail".
func lastEvent(t *testing.T, s *store.Store) string {
	t.Helper()
	evs, err := s.Events(t.Context(), 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Events: %v, %v", evs, err)
	}
	e := evs[0]
	return fmt.Sprintf("%s %s %s %s: %s", e.Actor, e.Action, e.Target, e.Outcome, e.Detail)
}

func testUsers(t *testing.T, s *store.Store) {
	ctx := t.Context()
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers of an empty store = %d, %v", n, err)
	}
	mustAddUser(t, s, "root", "admin")
	mustAddUser(t, s, "alice", "viewer")
	if got := lastEvent(t, s); !strings.HasPrefix(got, `root user.add user alice ok: role viewer; token "first"`) {
		t.Errorf("audit after AddUser: %s", got)
	}

	// A name is taken; the refusal changes nothing.
	_, _, err := s.AddUser(ctx, "root", "alice", "admin", "other", "hash-other")
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "user alice already exists") {
		t.Fatalf("adding alice twice: %v, want a conflict saying so", err)
	}
	if u := mustUser(t, s, "alice"); u.Role != "viewer" || u.Tokens != 1 {
		t.Errorf("a refused AddUser changed alice: %+v", u)
	}
	if _, err := s.TokenByHash(ctx, "hash-other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused AddUser left its token: %v", err)
	}
	// The database refuses unknown roles.
	if _, _, err := s.AddUser(ctx, "root", "mallory", "superuser", "t", "hash-m"); err == nil {
		t.Error("AddUser with role superuser succeeded")
	}
	if _, err := s.User(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("User(nobody): %v, want ErrNotFound", err)
	}

	cred, err := s.TokenByHash(ctx, "hash-alice")
	if err != nil || cred.Token.User != "alice" || cred.Role != "viewer" || cred.Token.Name != "first" {
		t.Fatalf("TokenByHash(hash-alice) = %+v, %v", cred, err)
	}

	// The last admin can be neither removed nor demoted.
	for _, try := range []func() error{
		func() error { return s.RemoveUser(ctx, "root", "root") },
		func() error { return s.SetRole(ctx, "root", "root", "", "deployer") },
	} {
		if err := try(); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "last admin") {
			t.Errorf("changing the last admin: %v, want a conflict naming the last admin", err)
		}
	}
	if u := mustUser(t, s, "root"); u.Role != "admin" || u.Disabled {
		t.Errorf("root after refused changes: %+v", u)
	}

	// Removing disables the user, revokes its tokens and drops its grants.
	if err := s.SetRole(ctx, "root", "alice", "staging", "deployer"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveUser(ctx, "root", "alice"); err != nil {
		t.Fatal(err)
	}
	if got := lastEvent(t, s); got != "root user.remove user alice ok: was viewer (deployer on staging); 1 token(s) revoked" {
		t.Errorf("audit after RemoveUser: %s", got)
	}
	u := mustUser(t, s, "alice")
	if !u.Disabled || u.Tokens != 0 || len(u.Grants) != 0 {
		t.Errorf("alice after removal: %+v", u)
	}
	if _, err := s.TokenByHash(ctx, "hash-alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a removed user's token still authenticates: %v", err)
	}
	if err := s.RemoveUser(ctx, "root", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing alice twice: %v, want ErrNotFound", err)
	}
	if _, err := s.AddToken(ctx, "alice", "alice", "again", "hash-again"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a removed user got a token: %v", err)
	}

	// Adding her again brings her back with the new role.
	if _, _, err := s.AddUser(ctx, "root", "alice", "deployer", "second", "hash-alice2"); err != nil {
		t.Fatal(err)
	}
	if u := mustUser(t, s, "alice"); u.Disabled || u.Role != "deployer" || u.Tokens != 1 {
		t.Errorf("alice re-added: %+v", u)
	}
	if got := lastEvent(t, s); !strings.Contains(got, "re-added after removal: role deployer") {
		t.Errorf("audit after re-adding: %s", got)
	}

	// With a second admin, the first may step down.
	if err := s.SetRole(ctx, "root", "alice", "", "admin"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRole(ctx, "alice", "root", "", "viewer"); err != nil {
		t.Fatalf("demoting one of two admins: %v", err)
	}
	if got := lastEvent(t, s); got != "alice user.role user root ok: global role admin -> viewer" {
		t.Errorf("audit after SetRole: %s", got)
	}
	users, err := s.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		got = append(got, u.Name+":"+u.Role)
	}
	if !slices.Equal(got, []string{"alice:admin", "root:viewer"}) {
		t.Errorf("Users = %v", got)
	}
	if n, _ := s.CountUsers(ctx); n != 2 {
		t.Errorf("CountUsers = %d, want 2", n)
	}
}

func testGrants(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustAddUser(t, s, "root", "admin")
	mustAddUser(t, s, "bob", "viewer")
	for _, g := range [][2]string{{"staging", "deployer"}, {"production", "viewer"}, {"staging", "approver"}} {
		if err := s.SetRole(ctx, "root", "bob", g[0], g[1]); err != nil {
			t.Fatalf("grant %v: %v", g, err)
		}
	}
	if got := lastEvent(t, s); got != "root user.grant user bob ok: approver on staging (was deployer)" {
		t.Errorf("audit after a grant: %s", got)
	}
	want := map[string]string{"staging": "approver", "production": "viewer"}
	if u := mustUser(t, s, "bob"); !maps.Equal(u.Grants, want) || u.Role != "viewer" {
		t.Errorf("bob = %+v, want grants %v", u, want)
	}
	users, _ := s.Users(ctx)
	if len(users) != 2 || !maps.Equal(users[0].Grants, want) || len(users[1].Grants) != 0 {
		t.Errorf("Users = %+v", users)
	}
	if err := s.RevokeGrant(ctx, "root", "bob", "production"); err != nil {
		t.Fatal(err)
	}
	if got := lastEvent(t, s); got != "root user.revoke user bob ok: viewer on production revoked; global role viewer applies" {
		t.Errorf("audit after a revoke: %s", got)
	}
	if err := s.RevokeGrant(ctx, "root", "bob", "production"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking a grant twice: %v, want ErrNotFound", err)
	}
	if err := s.SetRole(ctx, "root", "nobody", "staging", "deployer"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("granting to an unknown user: %v, want ErrNotFound", err)
	}
	if err := s.SetRole(ctx, "root", "bob", "staging", "owner"); err == nil {
		t.Error("the database accepted a grant of role owner")
	}
	if u := mustUser(t, s, "bob"); !maps.Equal(u.Grants, map[string]string{"staging": "approver"}) {
		t.Errorf("bob after revoke = %+v", u)
	}
}

func testTokens(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustAddUser(t, s, "root", "admin")
	mustAddUser(t, s, "ci", "deployer")
	laptop, err := s.AddToken(ctx, "ci", "ci", "laptop", "hash-laptop")
	if err != nil {
		t.Fatal(err)
	}
	if got := lastEvent(t, s); got != fmt.Sprintf("ci token.create token %d (ci/laptop) ok: ", laptop.ID) {
		t.Errorf("audit after AddToken: %s", got)
	}
	// Names are unique per user, not across users.
	if _, err := s.AddToken(ctx, "ci", "ci", "laptop", "hash-x"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second token named laptop: %v, want a conflict", err)
	}
	if _, err := s.AddToken(ctx, "root", "root", "laptop", "hash-root-laptop"); err != nil {
		t.Errorf("root's token named laptop: %v", err)
	}
	// The same hash twice is refused.
	if _, err := s.AddToken(ctx, "ci", "ci", "other", "hash-laptop"); err == nil {
		t.Error("a token with a taken hash was stored")
	}

	list := func(user string) []string {
		t.Helper()
		toks, err := s.Tokens(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tok := range toks {
			if tok.CreatedAt.IsZero() {
				t.Errorf("token %d has no creation time", tok.ID)
			}
			out = append(out, tok.User+"/"+tok.Name)
		}
		return out
	}
	if got := list("ci"); !slices.Equal(got, []string{"ci/first", "ci/laptop"}) {
		t.Errorf("Tokens(ci) = %v", got)
	}
	if got := list(""); !slices.Equal(got, []string{"root/first", "ci/first", "ci/laptop", "root/laptop"}) {
		t.Errorf("Tokens() = %v", got)
	}

	cred, err := s.TokenByHash(ctx, "hash-laptop")
	if err != nil || cred.Token.ID != laptop.ID || cred.Role != "deployer" || cred.Token.LastUsedAt != nil {
		t.Fatalf("TokenByHash(hash-laptop) = %+v, %v", cred, err)
	}
	if err := s.TouchToken(ctx, laptop.ID); err != nil {
		t.Fatal(err)
	}
	cred, _ = s.TokenByHash(ctx, "hash-laptop")
	if cred.Token.LastUsedAt == nil || time.Since(*cred.Token.LastUsedAt) > time.Minute {
		t.Errorf("last used after TouchToken = %v", cred.Token.LastUsedAt)
	}
	if _, err := s.TokenByHash(ctx, "hash-unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown hash: %v, want ErrNotFound", err)
	}

	// A user may revoke only its own tokens; another's looks absent.
	rootFirst, _ := s.Tokens(ctx, "root")
	if _, err := s.RevokeToken(ctx, "ci", rootFirst[0].ID, "ci"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ci revoking root's token: %v, want ErrNotFound", err)
	}
	if tok, err := s.RevokeToken(ctx, "ci", laptop.ID, "ci"); err != nil || tok.Name != "laptop" {
		t.Fatalf("RevokeToken(own) = %+v, %v", tok, err)
	}
	if got := lastEvent(t, s); got != fmt.Sprintf("ci token.revoke token %d (ci/laptop) ok: ", laptop.ID) {
		t.Errorf("audit after RevokeToken: %s", got)
	}
	if _, err := s.TokenByHash(ctx, "hash-laptop"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked token authenticates: %v", err)
	}
	// An admin (owner "") may revoke anyone's.
	if _, err := s.RevokeToken(ctx, "root", rootFirst[0].ID, ""); err != nil {
		t.Errorf("RevokeToken as admin: %v", err)
	}
	if _, err := s.RevokeToken(ctx, "root", 9999, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking an unknown token: %v", err)
	}
	if got := list(""); !slices.Equal(got, []string{"ci/first", "root/laptop"}) {
		t.Errorf("Tokens() after revoking = %v", got)
	}
}

func testAuditChain(t *testing.T, s *store.Store) {
	ctx := t.Context()
	verify := func(anchor *store.Anchor) store.AuditReport {
		t.Helper()
		r, err := s.VerifyEvents(ctx, anchor)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := verify(nil); !r.OK || r.Events != 0 {
		t.Fatalf("VerifyEvents of an empty log = %+v", r)
	}
	mustAddUser(t, s, "root", "admin")
	mustApply(t, s, newApp("hello", "staging"))
	deploy(t, s, "hello", "staging", digestA)
	if err := s.RecordEvent(ctx, store.Entry{Actor: "alice", Action: "deploy", App: "hello", Env: "production",
		Outcome: store.OutcomeDenied, Detail: "alice (viewer) may not deploy"}); err != nil {
		t.Fatal(err)
	}
	r := verify(nil)
	evs, _ := s.Events(ctx, 100)
	if !r.OK || r.Problem != nil || r.Events != int64(len(evs)) || r.HeadID != evs[0].ID || r.HeadHash != evs[0].Hash {
		t.Fatalf("VerifyEvents = %+v; %d events, newest %d %s", r, len(evs), evs[0].ID, evs[0].Hash)
	}
	if e := evs[0]; e.Outcome != store.OutcomeDenied || e.Target != "hello/production" || e.Actor != "alice" {
		t.Errorf("denied event = %+v", e)
	}
	// Each event links to the one before it.
	for i := 0; i+1 < len(evs); i++ {
		if evs[i].PrevHash != evs[i+1].Hash || evs[i].ID != evs[i+1].ID+1 {
			t.Errorf("event %d links to %s, event %d hashes to %s", evs[i].ID, evs[i].PrevHash, evs[i+1].ID, evs[i+1].Hash)
		}
	}
	if oldest := evs[len(evs)-1]; oldest.PrevHash != "" || oldest.ID != 1 {
		t.Errorf("oldest event = %+v, want id 1 linking to nothing", oldest)
	}

	// The head recorded now checks out later, while the log grows.
	head := &store.Anchor{ID: r.HeadID, Hash: r.HeadHash}
	mustAddUser(t, s, "bob", "viewer")
	if r := verify(head); !r.OK {
		t.Errorf("VerifyEvents with a good anchor = %+v", r)
	}
	if r := verify(&store.Anchor{ID: head.ID, Hash: strings.Repeat("0", 64)}); r.OK || r.Problem.ID != head.ID || r.Problem.Field != "anchor" {
		t.Errorf("VerifyEvents with a wrong anchor hash = %+v", r)
	}
	if r := verify(&store.Anchor{ID: 1000, Hash: head.Hash}); r.OK || r.Problem.Field != "anchor" || !strings.Contains(r.Problem.Reason, "deleted from the end") {
		t.Errorf("VerifyEvents with an anchor past the end = %+v", r)
	}

	// Filtering by app.
	byApp, err := s.QueryEvents(ctx, store.EventFilter{App: "hello", Limit: 2})
	if err != nil || len(byApp) != 2 || byApp[0].App != "hello" || byApp[1].App != "hello" || byApp[0].ID <= byApp[1].ID {
		t.Errorf("QueryEvents(app hello, 2) = %+v, %v", byApp, err)
	}
}
