// Package render builds the Knative objects that zeroflow's objects need,
// as pure functions of their specs (Knative's reconciler/<kind>/resources
// style): no I/O, deterministic output.
//
//   - An EventSource becomes a Knative Service running its webhooks, a
//     ConfigMap carrying its spec, and a SinkBinding that gives the Service
//     the broker as K_SINK.
//   - A Sensor becomes two Knative Services (its filter and its sensor), a
//     ConfigMap, SinkBindings, and Triggers: one per dependency into the
//     filter, one from the filter's dependency events into the sensor.
//   - A WorkflowTemplate's `function` templates become one Trigger per
//     function, routing its step.run events to the Knative Service of that
//     name.
//   - The workflow runtime (Runtime) is the controller's Triggers and the
//     built-in step functions' Services and Triggers.
//   - The Brokers the objects name (eventBusName; eventbus.go) that are not
//     declared, with zeroflow's delivery, and the controller's Triggers on
//     each.
//   - RBAC (rbac.go): the Roles and RoleBindings each Sensor's triggers and
//     each workflow's resource steps need, from what they do.
//   - Each of them comes with the EventPolicies of its senders
//     (eventpolicy.go: who may send what to the Broker), its Triggers
//     deliver with the audience of their subscriber, and each function's
//     Service carries the audience and callers it checks and, when it
//     posts to the Broker itself, a token for the Broker's audience.
//
// `zeroflow render` prints these objects for a cluster, and `zeroflow dev`
// runs the same objects locally, resolving each Trigger's subscriber to the
// local address of the Service it names.
package render
