package adapters_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// TestTypesAreComplete: every registered type declares what the rest of the bridge relies on,
// and a constructor that fails returns a nil Notifier (not an interface holding a nil pointer,
// whose Close would panic).
func TestTypesAreComplete(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, kind := range adapters.Types {
		t.Run(kind.Name, func(t *testing.T) {
			t.Parallel()
			require.NotEmpty(t, kind.Name)
			require.Same(t, kind, adapters.Lookup(kind.Name))
			require.NotNil(t, kind.NewConfig)
			require.NotNil(t, kind.New)
			require.GreaterOrEqual(t, kind.Concurrency, 1)
			require.GreaterOrEqual(t, kind.RateLimit, 0.0)

			cfg := kind.NewConfig()
			typ := reflect.TypeOf(cfg)
			require.Equal(t, reflect.Pointer, typ.Kind())
			require.Equal(t, reflect.Struct, typ.Elem().Kind(), "the YAML keys are the struct's tags")
			require.NotSame(t, cfg, kind.NewConfig(), "a fresh config per target")

			n, err := kind.New(cfg, notify.Deps{Version: "test", Concurrency: 1}) // an empty config cannot be built
			require.Error(t, err)
			require.Nil(t, n, "a nil Notifier on error")
			require.NoError(t, notify.Close(n))
		})
		require.False(t, seen[kind.Name], "duplicate type %s", kind.Name)
		seen[kind.Name] = true
	}
	require.Nil(t, adapters.Lookup("pager"))
	require.Equal(t, []string{"slack", "discord", "email", "webhook", "file"}, adapters.Names())
}
