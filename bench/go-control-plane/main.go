// Command go-control-plane-build is the go-control-plane side of bench/xds-build-vs-go.ts: a full
// snapshot build, for both groups, of the config bench/xds-snapshot-build.ts generates (the model
// `scale` and N-1 generated models, 3 versions each on the same 2 nodes, no REST ports), with
// envoyproxy/go-control-plane's types and cache.
//
// What one run times, for the envoy and the proxyless group together:
//
//   - build: the protos, the same shape xds-server's translator gives for such a model (see
//     xds-server/testdata/out/weighted-canary.*.yaml): per version an EDS cluster (circuit
//     breakers, outlier detection, HTTP/2 protocol options, in the envoy group an upstream
//     header_mutation filter) and a ClusterLoadAssignment with the nodes as endpoints; per model a
//     RouteConfiguration (14 routes in the envoy group, 4 in the proxyless one) and, in the envoy
//     group, a ScopedRouteConfiguration; in the proxyless group an API listener per model. The
//     envoy group's one listener is simplified (see ingressListener): it is one resource of 30,001.
//   - snapshot: cache.NewSnapshot (it only files the resources by type and name).
//   - versions: Snapshot.ConstructVersionMap, which a go-control-plane server runs for delta xDS:
//     proto.Marshal (deterministic) and a sha256 of every resource, as xds-server's content hashes.
//   - check: Snapshot.Consistent. go-control-plane does not follow API listeners to their route
//     configurations, so the proxyless snapshot fails that check ("consistent" says so); it does
//     the same walk either way.
//
// Usage: go run . -models 10000 -runs 4 -warmup 1   (one JSON line per timed run on stdout)
//
// With -compare FILE (written by bench/xds-build-vs-go.ts) it says which of xds-server's resources
// equal these as messages. Not as bytes: Go's marshaller writes a oneof field after the other
// fields, ts-proto in field-number order, so equal messages encode to different bytes (and sha256
// versions); the comparison is of protojson text, Any values unpacked.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	grpcstatsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_stats/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	codecv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/upstream_codec/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	previoushostsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	httpoptsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type node struct {
	name, address string
	port          uint32
}

var nodes = []node{{"node-1", "127.0.0.1", 9001}, {"node-2", "127.0.0.1", 9002}}

const unaryRegex = `^/inference\.GRPCInferenceService/Model(Infer|Metadata|Ready|Config|Statistics)$`

type model struct {
	name    string
	weights []uint32 // versions "1", "2", "3"
}

// models is the config bench/lib/xds-bench.ts modelsConfig gives for fakeNodes(2), [90, 10].
func models(n int) []model {
	out := []model{{"scale", []uint32{90, 10, 0}}}
	for i := 0; i < n-1; i++ {
		out = append(out, model{fmt.Sprintf("m%04d", i), []uint32{34, 33, 33}})
	}
	return out
}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

func ads() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		ResourceApiVersion:    corev3.ApiVersion_V3,
	}
}

func dur(s int64) *durationpb.Duration { return durationpb.New(time.Duration(s) * time.Second) }

func header(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: key, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// Packed once per process, as xds-server packs its constant parts once.
var (
	previousHosts = mustAny(&previoushostsv3.PreviousHostsPredicate{})
	upstreamCodec = mustAny(&codecv3.UpstreamCodec{})
)

func cluster(m model, version string, ingress bool) *clusterv3.Cluster {
	opts := &httpoptsv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpoptsv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &httpoptsv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpoptsv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
				},
			},
		},
	}
	c := &clusterv3.Cluster{
		Name:                 m.name + "~" + version,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: ads()},
		ConnectTimeout:       dur(1),
		CircuitBreakers: &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
			MaxConnections:     wrapperspb.UInt32(1024),
			MaxPendingRequests: wrapperspb.UInt32(1024),
			MaxRequests:        wrapperspb.UInt32(1024),
			MaxRetries:         wrapperspb.UInt32(3),
		}}},
		OutlierDetection: &clusterv3.OutlierDetection{
			Consecutive_5Xx:                    wrapperspb.UInt32(5),
			Interval:                           dur(1),
			BaseEjectionTime:                   dur(5),
			MaxEjectionPercent:                 wrapperspb.UInt32(50),
			EnforcingSuccessRate:               wrapperspb.UInt32(100),
			SuccessRateMinimumHosts:            wrapperspb.UInt32(5),
			SuccessRateRequestVolume:           wrapperspb.UInt32(100),
			SuccessRateStdevFactor:             wrapperspb.UInt32(1900),
			ConsecutiveGatewayFailure:          wrapperspb.UInt32(3),
			EnforcingConsecutiveGatewayFailure: wrapperspb.UInt32(100),
			SplitExternalLocalOriginErrors:     true,
			ConsecutiveLocalOriginFailure:      wrapperspb.UInt32(3),
		},
		CommonLbConfig: &clusterv3.Cluster_CommonLbConfig{HealthyPanicThreshold: &typev3.Percent{}},
	}
	if ingress {
		// Envoy: least request, and the model and version set on the upstream request.
		c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
		mutation := func(key, value string) *mutationv3.HeaderMutation {
			return &mutationv3.HeaderMutation{Action: &mutationv3.HeaderMutation_Append{Append: header(key, value)}}
		}
		opts.HttpFilters = []*hcmv3.HttpFilter{
			{Name: "envoy.filters.http.header_mutation", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(
				&headermutationv3.HeaderMutation{Mutations: &headermutationv3.Mutations{RequestMutations: []*mutationv3.HeaderMutation{
					mutation("x-inferencehub-model", m.name),
					mutation("x-inferencehub-model-version", version),
				}}})}},
			{Name: "envoy.filters.http.upstream_codec", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: upstreamCodec}},
		}
	}
	c.TypedExtensionProtocolOptions = map[string]*anypb.Any{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": mustAny(opts)}
	return c
}

func endpoints(m model, version string) *endpointv3.ClusterLoadAssignment {
	var lbs []*endpointv3.LbEndpoint
	for _, n := range nodes {
		lbs = append(lbs, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: n.address, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: n.port},
			}}},
			Hostname: n.name,
		}}})
	}
	return &endpointv3.ClusterLoadAssignment{
		ClusterName: m.name + "~" + version,
		Endpoints: []*endpointv3.LocalityLbEndpoints{{
			Locality:            &corev3.Locality{Zone: "default"},
			LbEndpoints:         lbs,
			LoadBalancingWeight: wrapperspb.UInt32(1),
		}},
	}
}

func exact(name, value string) *routev3.HeaderMatcher {
	return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
		StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: value}},
	}}
}

func present(name string) *routev3.HeaderMatcher {
	return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}
}

func grpcAnswer(status int, message string) []*corev3.HeaderValueOption {
	return []*corev3.HeaderValueOption{
		header("content-type", "application/grpc"),
		header("grpc-status", strconv.Itoa(status)),
		header("grpc-message", message),
	}
}

func direct(status uint32, body string) *routev3.Route_DirectResponse {
	d := &routev3.DirectResponseAction{Status: status}
	if body != "" {
		d.Body = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: body}}
	}
	return &routev3.Route_DirectResponse{DirectResponse: d}
}

func retry(perTryIdle bool) *routev3.RetryPolicy {
	p := &routev3.RetryPolicy{
		RetryOn:       "connect-failure,refused-stream,reset-before-request",
		NumRetries:    wrapperspb.UInt32(1),
		PerTryTimeout: dur(10),
		RetryHostPredicate: []*routev3.RetryPolicy_RetryHostPredicate{{
			Name: "envoy.retry_host_predicates.previous_hosts", ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: previousHosts},
		}},
		HostSelectionRetryMaxAttempts: 3,
	}
	if perTryIdle {
		p.PerTryIdleTimeout = dur(10)
	}
	return p
}

// forward routes to one cluster (name set) or the model's weighted split.
func forward(cluster string, split *routev3.WeightedCluster, timeout int64, retries *routev3.RetryPolicy) *routev3.Route_Route {
	a := &routev3.RouteAction{
		Timeout:           dur(timeout),
		RetryPolicy:       retries,
		MaxStreamDuration: &routev3.RouteAction_MaxStreamDuration{GrpcTimeoutHeaderMax: dur(timeout)},
	}
	if cluster != "" {
		a.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: cluster}
	} else {
		a.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: split}
	}
	return &routev3.Route_Route{Route: a}
}

func prefix(p string, headers ...*routev3.HeaderMatcher) *routev3.RouteMatch {
	return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: p}, Headers: headers}
}

func regex(r string, headers ...*routev3.HeaderMatcher) *routev3.RouteMatch {
	return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: r}}, Headers: headers}
}

func split(m model) *routev3.WeightedCluster {
	w := &routev3.WeightedCluster{}
	for i, weight := range m.weights {
		if weight > 0 {
			w.Clusters = append(w.Clusters, &routev3.WeightedCluster_ClusterWeight{Name: fmt.Sprintf("%s~%d", m.name, i+1), Weight: wrapperspb.UInt32(weight)})
		}
	}
	return w
}

// ingressRoutes is the envoy group's route configuration for one model (ingress_<model>).
func ingressRoutes(m model) *routev3.RouteConfiguration {
	isModel := exact("inferencehub-model", m.name)
	anyVersion := present("inferencehub-model-version")
	w := split(m)
	unaryRetry, streamRetry := retry(true), retry(false)
	unknown := fmt.Sprintf("version '%%REQ(inferencehub-model-version)%%' of model '%s' is not served by this gateway", m.name)
	routes := []*routev3.Route{
		{Name: m.name + ":rest:grpc-only", Match: prefix("/v2/"), Action: direct(501, "model '"+m.name+"' is served over gRPC only: none of its nodes declares a restPort")},
		{Name: "http:not-grpc", Match: prefix("/", &routev3.HeaderMatcher{
			Name: "content-type", InvertMatch: true, TreatMissingHeaderAsEmpty: true,
			HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "application/grpc"}}},
		}), Action: direct(404, "this gateway serves the Open Inference Protocol: gRPC (inference.GRPCInferenceService), or REST under /v2")},
		{Name: m.name + ":health", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/grpc.health.v1.Health/Check"}, Headers: []*routev3.HeaderMatcher{isModel}}, Action: forward("", w, 2, nil)},
		{Name: m.name + ":health-other", Match: prefix("/grpc.health.v1.Health/", isModel), Action: direct(200, ""), ResponseHeadersToAdd: grpcAnswer(12, "only grpc.health.v1.Health/Check is served through the gateway")},
	}
	versioned := func(suffix string, match func(...*routev3.HeaderMatcher) *routev3.RouteMatch, retries *routev3.RetryPolicy) {
		for i := range m.weights {
			v := strconv.Itoa(i + 1)
			routes = append(routes, &routev3.Route{Name: m.name + "~" + v + suffix, Match: match(isModel, exact("inferencehub-model-version", v)), Action: forward(m.name+"~"+v, nil, 30, retries)})
		}
		routes = append(routes,
			&routev3.Route{Name: m.name + ":unknown-version" + suffix, Match: match(isModel, anyVersion), Action: direct(200, ""), ResponseHeadersToAdd: grpcAnswer(5, unknown)},
			&routev3.Route{Name: m.name + suffix, Match: match(isModel), Action: forward("", w, 30, retries)})
	}
	versioned(":unary", func(h ...*routev3.HeaderMatcher) *routev3.RouteMatch { return regex(unaryRegex, h...) }, unaryRetry)
	versioned("", func(h ...*routev3.HeaderMatcher) *routev3.RouteMatch { return prefix("/", h...) }, streamRetry)
	return &routev3.RouteConfiguration{
		Name:                   "ingress_" + m.name,
		VirtualHosts:           []*routev3.VirtualHost{{Name: "inference", Domains: []string{"*"}, Routes: routes}},
		RequestHeadersToRemove: []string{"authorization"},
	}
}

// proxylessRoutes is the proxyless group's route configuration for one model (proxyless_<model>).
func proxylessRoutes(m model) *routev3.RouteConfiguration {
	var routes []*routev3.Route
	retries := retry(false)
	for i := range m.weights {
		v := strconv.Itoa(i + 1)
		routes = append(routes, &routev3.Route{Name: m.name + "~" + v, Match: prefix("/", exact("inferencehub-model-version", v)), Action: forward(m.name+"~"+v, nil, 30, retries)})
	}
	routes = append(routes, &routev3.Route{Name: m.name, Match: prefix("/"), Action: forward("", split(m), 30, retries)})
	return &routev3.RouteConfiguration{
		Name:         "proxyless_" + m.name,
		VirtualHosts: []*routev3.VirtualHost{{Name: m.name, Domains: []string{m.name}, Routes: routes}},
	}
}

func scope(name, key string) *routev3.ScopedRouteConfiguration {
	return &routev3.ScopedRouteConfiguration{
		Name:                   name,
		RouteConfigurationName: name,
		Key: &routev3.ScopedRouteConfiguration_Key{Fragments: []*routev3.ScopedRouteConfiguration_Key_Fragment{{
			Type: &routev3.ScopedRouteConfiguration_Key_Fragment_StringKey{StringKey: key},
		}}},
	}
}

func routerFilter() *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})}}
}

// ingressListener is the envoy group's one listener, simplified: the scoped-routes connection
// manager with its protocol options, grpc_stats and the router, but not xds-server's Lua filter,
// gRPC field extraction, early header mutations or access log (about 12 KiB of its 12.7 KiB).
func ingressListener() *listenerv3.Listener {
	manager := &hcmv3.HttpConnectionManager{
		StatPrefix: "ingress",
		RouteSpecifier: &hcmv3.HttpConnectionManager_ScopedRoutes{ScopedRoutes: &hcmv3.ScopedRoutes{
			Name: "ingress_scopes",
			ScopeKeyBuilder: &hcmv3.ScopedRoutes_ScopeKeyBuilder{Fragments: []*hcmv3.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder{{
				Type: &hcmv3.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor_{
					HeaderValueExtractor: &hcmv3.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor{Name: "inferencehub-model"},
				},
			}}},
			RdsConfigSource: ads(),
			ConfigSpecifier: &hcmv3.ScopedRoutes_ScopedRds{ScopedRds: &hcmv3.ScopedRds{ScopedRdsConfigSource: ads()}},
		}},
		HttpFilters: []*hcmv3.HttpFilter{
			{Name: "envoy.filters.http.grpc_stats", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&grpcstatsv3.FilterConfig{})}},
			routerFilter(),
		},
		CommonHttpProtocolOptions: &corev3.HttpProtocolOptions{IdleTimeout: dur(300), HeadersWithUnderscoresAction: corev3.HttpProtocolOptions_REJECT_REQUEST},
		Http2ProtocolOptions: &corev3.Http2ProtocolOptions{
			MaxConcurrentStreams:        wrapperspb.UInt32(100),
			InitialStreamWindowSize:     wrapperspb.UInt32(1048576),
			InitialConnectionWindowSize: wrapperspb.UInt32(8388608),
		},
		MaxRequestHeadersKb:   wrapperspb.UInt32(60),
		StreamIdleTimeout:     dur(300),
		RequestHeadersTimeout: dur(10),
		UseRemoteAddress:      wrapperspb.Bool(true),
	}
	return &listenerv3.Listener{
		Name: "ingress",
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080},
		}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(manager)},
		}}}},
	}
}

func apiListener(m model) *listenerv3.Listener {
	manager := &hcmv3.HttpConnectionManager{
		StatPrefix:     m.name,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{ConfigSource: ads(), RouteConfigName: "proxyless_" + m.name}},
		HttpFilters:    []*hcmv3.HttpFilter{routerFilter()},
	}
	return &listenerv3.Listener{Name: m.name, ApiListener: &listenerv3.ApiListener{ApiListener: mustAny(manager)}}
}

type resources = map[resource.Type][]types.Resource

// build gives both groups' resources.
func build(ms []model) (envoy, proxyless resources) {
	envoy = resources{resource.ListenerType: {ingressListener()}}
	proxyless = resources{}
	noModel := &routev3.RouteConfiguration{Name: "ingress_no_model", VirtualHosts: []*routev3.VirtualHost{{Name: "inference", Domains: []string{"*"}}}}
	envoy[resource.RouteType] = append(envoy[resource.RouteType], noModel)
	envoy[resource.ScopedRouteType] = append(envoy[resource.ScopedRouteType], scope("ingress_no_model", "-"))
	for _, m := range ms {
		for i := range m.weights {
			v := strconv.Itoa(i + 1)
			envoy[resource.ClusterType] = append(envoy[resource.ClusterType], cluster(m, v, true))
			envoy[resource.EndpointType] = append(envoy[resource.EndpointType], endpoints(m, v))
			proxyless[resource.ClusterType] = append(proxyless[resource.ClusterType], cluster(m, v, false))
			proxyless[resource.EndpointType] = append(proxyless[resource.EndpointType], endpoints(m, v))
		}
		envoy[resource.RouteType] = append(envoy[resource.RouteType], ingressRoutes(m))
		envoy[resource.ScopedRouteType] = append(envoy[resource.ScopedRouteType], scope("ingress_"+m.name, m.name))
		proxyless[resource.RouteType] = append(proxyless[resource.RouteType], proxylessRoutes(m))
		proxyless[resource.ListenerType] = append(proxyless[resource.ListenerType], apiListener(m))
	}
	return envoy, proxyless
}

func cpuMs() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

type result struct {
	Models     int                `json:"models"`
	WallMs     float64            `json:"wallMs"`
	CPUMs      float64            `json:"cpuMs"`
	StagesMs   map[string]float64 `json:"stagesMs"`
	Resources  map[string]int     `json:"resources"`
	Bytes      map[string]int     `json:"bytes,omitempty"`
	Consistent map[string]string  `json:"consistent"`
}

func run(n int, sizes bool) result {
	ms := models(n)
	cpu0, t0 := cpuMs(), time.Now()
	envoy, proxyless := build(ms)
	t1 := time.Now()
	snaps := map[string]*cache.Snapshot{}
	for group, res := range map[string]resources{"envoy": envoy, "proxyless": proxyless} {
		s, err := cache.NewSnapshot("1", res)
		if err != nil {
			panic(err)
		}
		snaps[group] = s
	}
	t2 := time.Now()
	for _, s := range snaps {
		if err := s.ConstructVersionMap(); err != nil {
			panic(err)
		}
	}
	t3 := time.Now()
	consistent := map[string]string{}
	for group, s := range snaps {
		consistent[group] = "ok"
		if err := s.Consistent(); err != nil {
			consistent[group] = err.Error()
			if len(consistent[group]) > 120 {
				consistent[group] = consistent[group][:120] + "..."
			}
		}
	}
	t4 := time.Now()
	r := result{
		Models: n, WallMs: float64(t4.Sub(t0).Microseconds()) / 1000, CPUMs: cpuMs() - cpu0,
		StagesMs: map[string]float64{
			"build": float64(t1.Sub(t0).Microseconds()) / 1000, "snapshot": float64(t2.Sub(t1).Microseconds()) / 1000,
			"versions": float64(t3.Sub(t2).Microseconds()) / 1000, "check": float64(t4.Sub(t3).Microseconds()) / 1000,
		},
		Resources: map[string]int{}, Consistent: consistent,
	}
	if sizes {
		r.Bytes = map[string]int{}
	}
	for group, res := range map[string]resources{"envoy": envoy, "proxyless": proxyless} {
		for typ, items := range res {
			key := group + " " + typ[len("type.googleapis.com/envoy.config."):]
			r.Resources[key] = len(items)
			if sizes { // outside the timed part
				for _, it := range items {
					r.Bytes[key] += proto.Size(it)
				}
			}
		}
	}
	return r
}

// compare reads xds-server's resources for n models and compares each, as protojson text (which
// unpacks Any values), with the one built here of the same name.
func compare(path string, n int) map[string]any {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	var theirs map[string]map[string]map[string][]byte
	if err := json.Unmarshal(data, &theirs); err != nil {
		panic(err)
	}
	envoy, proxyless := build(models(n))
	out := map[string]any{}
	for group, res := range map[string]resources{"envoy": envoy, "proxyless": proxyless} {
		for typeURL, items := range res {
			equal, differ := 0, []string{}
			for _, it := range items {
				name := cache.GetResourceName(it)
				mine, err1 := protojson.Marshal(it)
				other := it.ProtoReflect().New().Interface()
				err2 := proto.Unmarshal(theirs[group][typeURL][name], other)
				text, err3 := protojson.Marshal(other)
				if err1 == nil && err2 == nil && err3 == nil && string(mine) == string(text) {
					equal++
				} else {
					differ = append(differ, name)
				}
			}
			out[group+" "+typeURL[len("type.googleapis.com/envoy.config."):]] = map[string]any{
				"equal": equal, "of": len(items), "ours": len(theirs[group][typeURL]), "differ": differ,
			}
		}
	}
	return out
}

func main() {
	n := flag.Int("models", 10000, "models, `scale` included, 3 versions each")
	runs := flag.Int("runs", 4, "timed runs")
	warmup := flag.Int("warmup", 1, "untimed runs first")
	compareWith := flag.String("compare", "", "a JSON file of xds-server's encoded resources (group → type URL → name → base64): "+
		"print how many equal ours as messages, and exit")
	flag.Parse()
	if *compareWith != "" {
		if err := json.NewEncoder(os.Stdout).Encode(compare(*compareWith, *n)); err != nil {
			panic(err)
		}
		return
	}
	for i := 0; i < *warmup; i++ {
		run(*n, false)
	}
	out := json.NewEncoder(os.Stdout)
	for i := 0; i < *runs; i++ {
		if err := out.Encode(run(*n, i == *runs-1)); err != nil {
			panic(err)
		}
	}
}
