package store_test

import (
	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/bridge"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/dashboard"
	"github.com/cortexbridge/cortex-bridge/silences"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/storetest"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

// *store.DB is every consumer's storage, and what the conformance suite runs over.
var (
	_ core.BusStore          = (*store.DB)(nil)
	_ core.DispatcherStore   = (*store.DB)(nil)
	_ core.SchedulerStore    = (*store.DB)(nil)
	_ api.ManagementStore    = (*store.DB)(nil)
	_ api.EventStore         = (*store.DB)(nil)
	_ dashboard.Store        = (*store.DB)(nil)
	_ webhooks.Store         = (*store.DB)(nil)
	_ webhooks.RegistryStore = (*store.DB)(nil)
	_ silences.Store         = (*store.DB)(nil)
	_ bridge.Store           = (*store.DB)(nil)
	_ storetest.Store        = (*store.DB)(nil)
)
