package spec

import (
	"errors"
	"testing"
)

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "slipway.yaml", Line: 7, Column: 5, Path: "environments.staging.replica", Message: "unknown field"}, "slipway.yaml:7:5: environments.staging.replica: unknown field"},
		{Error{File: "slipway.yaml", Line: 3, Message: "invalid YAML"}, "slipway.yaml:3: invalid YAML"},
		{Error{File: "slipway.yaml", Message: "empty"}, "slipway.yaml: empty"},
		{Error{Line: 2, Column: 1, Path: "name", Message: "required"}, "2:1: name: required"},
		{Error{Path: "name", Message: "required"}, "name: required"},
		{Error{Message: "no app"}, "no app"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorList(t *testing.T) {
	first := &Error{Path: "a", Message: "x"}
	list := ErrorList{first, {Path: "b", Message: "y"}}
	if got, want := list.Error(), "a: x\nb: y"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var err error = list
	var one *Error
	if !errors.As(err, &one) || one != first {
		t.Errorf("errors.As found %v, want the first entry", one)
	}
	if !errors.Is(err, first) {
		t.Error("errors.Is does not see the entries")
	}
	if ErrorList(nil).err() != nil {
		t.Error("an empty list became a non-nil error")
	}
}
