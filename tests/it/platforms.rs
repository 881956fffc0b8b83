//! Cumulocity and Sesam services run as their platforms run them (RUNTIME.md §2, §3), read
//! back from the real engine: the platform's variables and capability profile, a request
//! clamped to its limit, a Sesam `_id` resolved and fetched from another service, and a
//! project that joins a network it did not make.

use crate::engine::{IMAGE, Project, docker};

/// `docker inspect -f FORMAT container`, trimmed.
fn inspect(container: &str, format: &str) -> String {
    let (out, stderr, status) = docker(&["inspect", "-f", format, container]);
    assert_eq!(status, 0, "{stderr}");
    out.trim().to_string()
}

fn apply(p: &Project) {
    p.apply(&["--stable-for", "1s"]);
}

#[test]
fn a_cumulocity_service_gets_the_platforms_variables_and_capabilities() {
    let p = Project::new("berth-it-c8y-runtime");
    let config = |capabilities: &str| {
        format!(
            r#"project: berth-it-c8y-runtime
cumulocity:
  base_url: http://c8y.local
  mqtt_url: mqtt://c8y.local:1883
  pulsar_url: pulsar://c8y.local:6650
  timezone: Europe/Oslo
  application_keys: {{ runtime: runtime-app-key }}
  proxy:
    http: {{ host: proxy.local, port: 3128 }}
    non_proxy_hosts: "localhost|*.local"
  capabilities: {capabilities}
  images:
    "runtime:1.0.0": {IMAGE}
"#
        )
    };
    p.write("berth.yaml", &config("platform"));
    p.write(
        "cumulocity.json",
        r#"{"apiVersion": "2", "name": "runtime", "version": "1.0.0", "provider": {"name": "berth"},
  "isolation": "MULTI_TENANT", "resources": {"cpu": "0.2", "memory": "128M"},
  "readinessProbe": {"httpGet": {"path": "/health", "port": 80}, "periodSeconds": 1}}"#,
    );
    apply(&p);
    let c = p.container("runtime");
    let env = inspect(&c, "{{range .Config.Env}}{{println .}}{{end}}");
    for expected in [
        "APPLICATION_NAME=runtime",
        "APPLICATION_KEY=runtime-app-key",
        "SERVER_PORT=80",
        "C8Y_BASEURL=http://c8y.local",
        "C8Y_BASEURL_MQTT=mqtt://c8y.local:1883",
        "C8Y_BASEURL_PULSAR=pulsar://c8y.local:6650",
        "C8Y_BOOTSTRAP_REGISTER=false",
        "C8Y_MICROSERVICE_ISOLATION=MULTI_TENANT",
        "MICROSERVICE_SUBSCRIPTION_ENABLED=true",
        "LOG4J_FORMAT_MSG_NO_LOOKUPS=true",
        "MEMORY_LIMIT=128M",
        "TZ=Europe/Oslo",
        "PROXY_HTTP_HOST=proxy.local",
        "PROXY_HTTP_PORT=3128",
        "PROXY_HTTP_NON_PROXY_HOSTS=localhost|*.local",
    ] {
        assert!(env.lines().any(|l| l == expected), "no {expected} in:\n{env}");
    }
    assert!(
        !env.contains("PROXY_HTTPS_HOST") && !env.contains("PROXY_SOCKS_HOST"),
        "{env}"
    );
    // MEMORY_LIMIT is the limit the container really has; the default request (256M)
    // was clamped to it, as Kubernetes never lets a request exceed its limit.
    assert_eq!(
        inspect(
            &c,
            "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}} {{.HostConfig.NanoCpus}}"
        ),
        "128000000 128000000 200000000"
    );
    assert_eq!(
        inspect(&c, "{{json .HostConfig.CapDrop}} {{json .HostConfig.CapAdd}}"),
        r#"["ALL"] ["NET_BIND_SERVICE"]"#
    );
    // With only NET_BIND_SERVICE it still listens on port 80: its readiness probe passed.
    assert_eq!(inspect(&c, "{{.State.Running}}"), "true");

    // A change of what the format means shows up as a plan with its reasons.
    p.write("berth.yaml", &config("docker"));
    let (text, status) = p.plan(&[]);
    assert_eq!(status, 2, "{text}");
    assert!(
        text.contains("-/+") && text.contains("capabilities.drop"),
        "{text}"
    );
    apply(&p);
    assert_eq!(inspect(&c, "{{json .HostConfig.CapDrop}}"), "null");
}

#[test]
fn a_sesam_service_is_reached_by_its_id_from_another_service() {
    let p = Project::new("berth-it-sesam-dns");
    p.service("alpha", "info", 32);
    p.service("beta_svc", "info", 32);
    apply(&p);
    let (out, stderr, status) = docker(&[
        "exec",
        &p.container("alpha"),
        "/berth-demo",
        "--fetch",
        "http://beta_svc:8080/health",
    ]);
    assert_eq!(status, 0, "{out}{stderr}");
    assert!(out.contains("\"status\":\"UP\""), "{out}");
}

#[test]
fn a_project_joins_an_external_network_and_never_makes_or_removes_it() {
    let p = Project::new("berth-it-external");
    let network = "berth-it-external-microservices";
    docker(&["network", "rm", network]);
    // First on a network of its own.
    p.service("feeder", "info", 32);
    apply(&p);
    let feeder = p.container("feeder");
    let before = inspect(&feeder, "{{.Id}}");
    p.write(
        "berth.yaml",
        &format!("project: berth-it-external\nnetwork:\n  external: {network}\n"),
    );
    let (text, status) = p.plan(&[]);
    assert_eq!(status, 1, "{text}");
    assert!(
        text.contains(&format!(
            "error: berth.yaml:3:3: the network `{network}` (berth.yaml network.external) does not exist on the engine; create it first"
        )),
        "{text}"
    );
    assert_ne!(
        docker(&["network", "inspect", network]).2,
        0,
        "not made by the plan"
    );
    let (stdout, stderr, status) = p.berth(&["apply", "--auto-approve"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert_ne!(docker(&["network", "inspect", network]).2, 0, "nor by the apply");
    assert_eq!(inspect(&feeder, "{{.Id}}"), before, "and nothing changed");

    // Made beforehand, as a Sesam node's `microservices` network is: the service moves
    // there (a replace, with its reason), and berth's own network goes.
    let (_, stderr, status) = docker(&["network", "create", network]);
    assert_eq!(status, 0, "{stderr}");
    let (text, status) = p.plan(&[]);
    assert_eq!(status, 2, "{text}");
    assert!(
        text.contains(&format!("~ network: null → \"{network}\"")),
        "{text}"
    );
    assert!(
        text.contains("# network berth-it-external-net will be removed"),
        "{text}"
    );
    apply(&p);
    let networks = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}";
    assert_eq!(inspect(&feeder, networks), network);
    assert_ne!(
        docker(&["network", "inspect", "berth-it-external-net"]).2,
        0,
        "no network of its own"
    );
    assert_eq!(p.plan(&[]).1, 0, "converged");
    // Whatever else is on that network reaches the service by its _id.
    let (out, stderr, status) = docker(&[
        "run",
        "--rm",
        "--network",
        network,
        IMAGE,
        "/berth-demo",
        "--fetch",
        "http://feeder:8080/health",
    ]);
    assert_eq!(status, 0, "{out}{stderr}");

    // Pruned to nothing, the project leaves the network it did not make.
    p.remove("feeder.conf.json");
    p.apply(&["--prune"]);
    assert!(p.containers().is_empty());
    assert_eq!(docker(&["network", "inspect", network]).2, 0, "still there");
    docker(&["network", "rm", network]);
}
