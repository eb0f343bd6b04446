package store_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/secret"
	"github.com/slipway-dev/slipway/internal/store"
)

// sealed stands in for a ciphertext: the store never sees a value.
func sealed(s string) []byte { return []byte("ct:" + s) }

func secretList(t *testing.T, s *store.Store, app, env string) []string {
	t.Helper()
	list, err := s.Secrets(t.Context(), app, env)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range list {
		if v.CreatedBy == "" || v.CreatedAt.IsZero() {
			t.Errorf("secret %s v%d lacks who or when: %+v", v.Key, v.Version, v)
		}
		out = append(out, fmt.Sprintf("%s:%d", v.Key, v.Version))
	}
	return out
}

// Every change adds a version; an unset adds a deleting version; nothing
// is updated in place.
func testSecretVersions(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))
	change := func(set map[string][]byte, unset ...string) ([]store.SecretVersion, error) {
		return s.ChangeSecrets(ctx, "hello", "staging", set, unset, "carol")
	}
	if _, err := change(map[string][]byte{"DB_PASSWORD": sealed("a1"), "API_KEY": sealed("k1")}); err != nil {
		t.Fatal(err)
	}
	added, err := change(map[string][]byte{"DB_PASSWORD": sealed("a2")})
	if err != nil || len(added) != 1 || added[0].Version != 2 || added[0].CreatedBy != "carol" {
		t.Fatalf("second set = %+v, %v; want version 2 by carol", added, err)
	}
	if got := secretList(t, s, "hello", "staging"); !slices.Equal(got, []string{"API_KEY:1", "DB_PASSWORD:2"}) {
		t.Errorf("secrets = %v", got)
	}
	if got := secretList(t, s, "hello", "production"); len(got) != 0 {
		t.Errorf("staging's secrets leaked into production: %v", got)
	}
	if _, err := change(nil, "DB_PASSWORD"); err != nil {
		t.Fatal(err)
	}
	if got := secretList(t, s, "hello", "staging"); !slices.Equal(got, []string{"API_KEY:1"}) {
		t.Errorf("secrets after unset = %v", got)
	}
	for _, k := range []string{"DB_PASSWORD", "NEVER_SET"} {
		if _, err := change(nil, k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unset of absent %s = %v, want ErrNotFound", k, err)
		}
	}
	if _, err := change(map[string][]byte{"X": sealed("x")}, "X"); err == nil {
		t.Error("set and unset of one name in one change was accepted")
	}
	if _, err := s.ChangeSecrets(ctx, "hello", "nowhere", map[string][]byte{"X": sealed("x")}, nil, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("set in an unknown environment = %v", err)
	}
	// While a rollout runs (it pinned its secrets already), changes wait.
	_, ro := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA})
	var ce *store.ConflictError
	if _, err := change(map[string][]byte{"LATE": sealed("l")}); !errors.As(err, &ce) {
		t.Errorf("change during a rollout = %v, want a conflict", err)
	}
	if err := s.FinishRollout(ctx, ro.ID, store.RolloutFailed, "test"); err != nil {
		t.Fatal(err)
	}
	added, err = change(map[string][]byte{"DB_PASSWORD": sealed("a4")})
	if err != nil || added[0].Version != 4 {
		t.Fatalf("set after unset = %+v, %v; want version 4", added, err)
	}
	hist, err := s.SecretHistory(ctx, "hello", "staging")
	if err != nil {
		t.Fatal(err)
	}
	var h []string
	for _, v := range hist {
		h = append(h, fmt.Sprintf("%s:%d:%v", v.Key, v.Version, v.Deleted))
	}
	if want := []string{"API_KEY:1:false", "DB_PASSWORD:4:false", "DB_PASSWORD:3:true", "DB_PASSWORD:2:false", "DB_PASSWORD:1:false"}; !slices.Equal(h, want) {
		t.Errorf("history = %v\nwant %v", h, want)
	}
	// Old versions stay readable, byte for byte.
	cts, err := s.SecretCiphertexts(ctx, "hello", "staging", map[string]int{"DB_PASSWORD": 1, "API_KEY": 1})
	if err != nil || string(cts["DB_PASSWORD"]) != "ct:a1" || string(cts["API_KEY"]) != "ct:k1" {
		t.Errorf("ciphertexts of version 1 = %q, %v", cts, err)
	}
	if _, err := s.SecretCiphertexts(ctx, "hello", "staging", map[string]int{"DB_PASSWORD": 3}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ciphertext of a deleting version = %v, want ErrNotFound", err)
	}
	// The audit log names secrets and versions, nothing else.
	ev, err := s.Events(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, e := range ev {
		if strings.HasPrefix(e.Action, "secret.") {
			details = append(details, e.Action+" "+e.Detail)
		}
		if strings.Contains(e.Detail, "ct:") {
			t.Errorf("audit event carries a ciphertext: %+v", e)
		}
	}
	if !slices.Contains(details, "secret.set DB_PASSWORD version 2") || !slices.Contains(details, "secret.unset DB_PASSWORD (version 3 deletes it)") {
		t.Errorf("audit details = %q", details)
	}
}

// A release pins secret versions; a rollback re-delivers its own; a
// promote-like rollout into another environment pins that environment's.
func testSecretPinning(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))
	if _, err := s.ChangeSecrets(ctx, "hello", "staging", map[string][]byte{"DB_PASSWORD": sealed("v1")}, nil, "carol"); err != nil {
		t.Fatal(err)
	}
	rel1 := deploy(t, s, "hello", "staging", digestA)
	if !maps.Equal(rel1.Secrets, map[string]int{"DB_PASSWORD": 1}) {
		t.Fatalf("first deploy pins %v, want DB_PASSWORD:1", rel1.Secrets)
	}
	rel2, ro := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA, Kind: "secret", Source: "secret set DB_PASSWORD",
		SecretSet: map[string][]byte{"DB_PASSWORD": sealed("v2"), "API_KEY": sealed("k1")}})
	succeed(t, s, ro)
	if !maps.Equal(rel2.Secrets, map[string]int{"DB_PASSWORD": 2, "API_KEY": 1}) || rel2.Artifact != digestA {
		t.Fatalf("secret set made release %d pinning %v with %s", rel2.Number, rel2.Secrets, rel2.Artifact)
	}
	if got := mustRelease(t, s, "hello", "staging", 2).Secrets; !maps.Equal(got, rel2.Secrets) {
		t.Errorf("stored pins %v, want %v", got, rel2.Secrets)
	}
	// Unset in a rollout: the next release pins no DB_PASSWORD.
	rel3, ro := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA, Kind: "secret", SecretUnset: []string{"DB_PASSWORD"}})
	succeed(t, s, ro)
	if !maps.Equal(rel3.Secrets, map[string]int{"API_KEY": 1}) {
		t.Errorf("after unset the release pins %v", rel3.Secrets)
	}
	// Rollback to release 1 is release 1 itself, with DB_PASSWORD version 1.
	back, ro, err := s.BeginRollout(ctx, store.NewRollout{App: "hello", Env: "staging", Existing: 1, Kind: "rollback", Strategy: "blue-green", Actor: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	succeed(t, s, ro)
	if !maps.Equal(back.Secrets, map[string]int{"DB_PASSWORD": 1}) {
		t.Fatalf("rollback pins %v, want DB_PASSWORD:1", back.Secrets)
	}
	cts, err := s.SecretCiphertexts(ctx, "hello", "staging", back.Secrets)
	if err != nil || string(cts["DB_PASSWORD"]) != "ct:v1" {
		t.Fatalf("rollback delivers %q, %v; want the first value", cts, err)
	}
	// The rollback changed no secret: the current versions stay.
	if got := secretList(t, s, "hello", "staging"); !slices.Equal(got, []string{"API_KEY:1"}) {
		t.Errorf("secrets after rollback = %v", got)
	}
	// A rollout into production pins production's own secrets (none).
	prod := deploy(t, s, "hello", "production", digestA)
	if len(prod.Secrets) != 0 {
		t.Errorf("production pins staging's secrets: %v", prod.Secrets)
	}
	// A secret change that conflicts with a running rollout stores nothing.
	_, running := begin(t, s, store.NewRollout{App: "hello", Env: "staging", Artifact: digestB})
	_, _, err = s.BeginRollout(ctx, store.NewRollout{App: "hello", Env: "staging", Artifact: digestA, Actor: "bob", Strategy: "blue-green",
		SecretSet: map[string][]byte{"API_KEY": sealed("k2")}})
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("secret change during a rollout = %v, want a conflict", err)
	}
	if got := secretList(t, s, "hello", "staging"); !slices.Equal(got, []string{"API_KEY:1"}) {
		t.Errorf("a refused change stored versions: %v", got)
	}
	succeed(t, s, running)
}

// Rotation re-encrypts every version in one transaction: afterwards only
// the new key opens them; a failure half-way changes nothing.
func testSecretRotation(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mustApply(t, s, newApp("hello", "staging", "production"))
	oldKey, _ := secret.Generate()
	newKey, _ := secret.Generate()
	if err := s.InitSecretsKey(ctx, oldKey.Recipient()); err != nil {
		t.Fatal(err)
	}
	if err := s.InitSecretsKey(ctx, oldKey.Recipient()); err != nil {
		t.Errorf("recording the same key again = %v", err)
	}
	if err := s.InitSecretsKey(ctx, newKey.Recipient()); !errors.Is(err, store.ErrConflict) {
		t.Errorf("recording another key = %v, want a conflict", err)
	}
	values := map[string]string{"staging/DB_PASSWORD/1": "first-password", "staging/DB_PASSWORD/2": "second-password", "production/API_KEY/1": "prod-api-key"}
	for _, id := range slices.Sorted(maps.Keys(values)) {
		parts := strings.Split(id, "/")
		ct, err := oldKey.Seal(secret.Label("hello", parts[0], parts[1]), []byte(values[id]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChangeSecrets(ctx, "hello", parts[0], map[string][]byte{parts[1]: ct}, nil, "carol"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ChangeSecrets(ctx, "hello", "production", map[string][]byte{"GONE": sealed("x")}, nil, "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangeSecrets(ctx, "hello", "production", nil, []string{"GONE"}, "carol"); err != nil {
		t.Fatal(err)
	}
	// GONE v1 is not a real ciphertext: rotation fails on it and must roll
	// back every ciphertext it already rewrote.
	reseal := func(from, to *secret.Key) func(v store.SecretVersion, ct []byte) ([]byte, error) {
		return func(v store.SecretVersion, ct []byte) ([]byte, error) {
			label := secret.Label(v.App, v.Env, v.Key)
			plain, err := from.Open(label, ct)
			if err != nil {
				return nil, err
			}
			return to.Seal(label, plain)
		}
	}
	if _, err := s.ReencryptSecrets(ctx, newKey.Recipient(), "admin", reseal(oldKey, newKey)); !errors.Is(err, secret.ErrDecrypt) {
		t.Fatalf("rotation over a corrupt ciphertext = %v, want ErrDecrypt", err)
	}
	check := func(want, not *secret.Key) {
		t.Helper()
		if r, _ := s.SecretsKey(ctx); r != want.Recipient() {
			t.Errorf("recorded key %s, want %s", r, want.Recipient())
		}
		for id, v := range values {
			parts := strings.Split(id, "/")
			var n int
			fmt.Sscan(parts[2], &n)
			cts, err := s.SecretCiphertexts(ctx, "hello", parts[0], map[string]int{parts[1]: n})
			if err != nil {
				t.Fatal(err)
			}
			label := secret.Label("hello", parts[0], parts[1])
			if got, err := want.Open(label, cts[parts[1]]); err != nil || string(got) != v {
				t.Errorf("%s with the key in use: %v", id, err)
			}
			if _, err := not.Open(label, cts[parts[1]]); !errors.Is(err, secret.ErrDecrypt) {
				t.Errorf("%s opens with the other key: %v", id, err)
			}
		}
	}
	check(oldKey, newKey)

	// Without the corrupt version (it is only reachable by its history:
	// replace it through a fresh store state), rotation succeeds.
	if _, err := s.ChangeSecrets(ctx, "hello", "production", map[string][]byte{"GONE": mustSeal(t, oldKey, "hello", "production", "GONE")}, nil, "carol"); err != nil {
		t.Fatal(err)
	}
	n, err := s.ReencryptSecrets(ctx, newKey.Recipient(), "admin", func(v store.SecretVersion, ct []byte) ([]byte, error) {
		if v.Key == "GONE" && v.Version == 1 {
			return ct, nil // the test's stand-in ciphertext; left as is
		}
		return reseal(oldKey, newKey)(v, ct)
	})
	if err != nil || n != 5 {
		t.Fatalf("rotation = %d, %v; want 5 versions re-encrypted", n, err)
	}
	check(newKey, oldKey)
	ev, _ := s.Events(ctx, 1)
	if len(ev) != 1 || ev[0].Action != "secret.rotate-key" || !strings.Contains(ev[0].Detail, newKey.Recipient()) {
		t.Errorf("last event = %+v, want the rotation", ev)
	}
}

func mustSeal(t *testing.T, k *secret.Key, app, env, name string) []byte {
	t.Helper()
	ct, err := k.Seal(secret.Label(app, env, name), []byte("value of "+name))
	if err != nil {
		t.Fatal(err)
	}
	return ct
}
