//! A real Kafka-protocol broker (tansu) on a free port, a TCP proxy that can cut the connection,
//! the engine as a child process, and small synchronous clients.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The broker `scripts/install-test-deps.sh` builds, `$TOKENWATCH_TOOLS/bin/tansu` (by default
/// under `~/.cache/tokenwatch/tools`), and not a `tansu` found on the PATH: stock tansu 0.6.0
/// skips the rest of a record batch when a fetch starts inside it
/// (`scripts/tansu/fetch-from-containing-batch.patch`), which would pass for records lost here.
pub fn tansu_bin() -> PathBuf {
    let tools = std::env::var_os("TOKENWATCH_TOOLS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is not set")).join(".cache/tokenwatch/tools")
    });
    tools.join("bin/tansu")
}

/// A tansu broker with in-memory storage; killed when dropped.
pub struct Broker {
    child: Child,
    port: u16,
    advertised: u16,
}

impl Broker {
    /// Starts a broker advertising its own address.
    pub fn start() -> Broker {
        let port = free_port();
        Broker::spawn(port, port)
    }

    fn spawn(port: u16, advertised: u16) -> Broker {
        let child = Command::new(tansu_bin())
            .args([
                "broker",
                "--listener-url",
                &format!("tcp://127.0.0.1:{port}"),
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{advertised}"),
                "--storage-engine",
                "memory://tansu/",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {} ({error}): run scripts/install-test-deps.sh, which builds it",
                    tansu_bin().display()
                )
            });
        wait_for_port(port, Duration::from_secs(20));
        Broker { child, port, advertised }
    }

    /// `host:port` clients connect to.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.advertised)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A broker reachable only through a TCP proxy that can cut every connection and refuse new ones
/// (a network outage, as the clients see it), then let them through again.
pub struct Proxy {
    broker: Broker,
    port: u16,
    open: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// A broker advertising the proxy's address, and the proxy in front of it.
    pub fn start(_unused: &Broker) -> Proxy {
        let port = free_port();
        let broker = Broker::spawn(free_port(), port);
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let target = broker.port;
        {
            let open = Arc::clone(&open);
            let streams = Arc::clone(&streams);
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { continue };
                    if !open.load(Ordering::SeqCst) {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                    let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                    let mut registry = streams.lock().unwrap();
                    registry.push(client.try_clone().unwrap());
                    registry.push(upstream.try_clone().unwrap());
                    drop(registry);
                    pipe(client.try_clone().unwrap(), upstream.try_clone().unwrap());
                    pipe(upstream, client);
                }
            });
        }
        Proxy { broker, port, open, streams }
    }

    /// The address clients use.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// Creates a topic (waits until it exists).
pub fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let result = futures::executor::block_on(admin.create_topics(&[new], &AdminOptions::new())).unwrap();
    for outcome in result {
        if let Err((name, code)) = outcome {
            assert_eq!(code, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists, "creating {name}");
        }
    }
}

/// Produces `(key, value)` records in order and waits for every acknowledgement.
pub fn produce_lines(brokers: &str, topic: &str, records: &[(String, String)]) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for (key, value) in records {
        let mut record = BaseRecord::to(topic).key(key.as_str()).payload(value.as_str());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("records acknowledged");
}

/// A group-less consumer of every partition of `topic` from the beginning (waits for the topic).
pub fn consumer(brokers: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("test-reader-{}", free_port()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(5));
        if let Ok(metadata) = metadata {
            let partitions: Vec<i32> = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == topic && t.error().is_none())
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            if !partitions.is_empty() {
                let mut list = TopicPartitionList::new();
                for partition in partitions {
                    list.add_partition_offset(topic, partition, Offset::Beginning).unwrap();
                }
                consumer.assign(&list).unwrap();
                return consumer;
            }
        }
        assert!(Instant::now() < deadline, "topic {topic} never appeared");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `tokenwatch run` as a child process, its standard error collected.
pub struct Engine {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Engine {
    /// Starts the binary with `args` and extra environment.
    pub fn start(bin: &str, args: &[String], envs: &[(&str, &str)]) -> Engine {
        let mut command = Command::new(bin);
        command.args(args).env("RUST_LOG", "info").stdout(Stdio::null()).stderr(Stdio::piped());
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let reader = BufReader::new(child.stderr.take().unwrap());
        {
            let stderr = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in reader.lines().map_while(Result::ok) {
                    let mut text = stderr.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            });
        }
        Engine { child, stderr }
    }

    /// What it wrote to standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The address of its HTTP endpoint, from its log.
    pub fn http_address(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = self.stderr();
            if let Some(line) = text.lines().find(|l| l.contains("serving /metrics")) {
                let start = line.find("address=").expect("address in the log line") + "address=".len();
                return line[start..].split_whitespace().next().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "no HTTP endpoint in the log:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// GETs a path of its HTTP endpoint: (status code, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.http_address(), path)
    }

    /// Its `/metrics` text.
    pub fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200);
        body
    }

    /// Waits until `/readyz` answers 200.
    pub fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.get("/readyz").0 != 200 {
            assert!(Instant::now() < deadline, "never ready:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends SIGTERM.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit (asserting it exits successfully) and returns its log.
    pub fn wait_stderr(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(200));
                let text = self.stderr();
                assert!(status.success(), "exit {status}:\n{text}");
                return text;
            }
            assert!(Instant::now() < deadline, "did not stop in time:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.0 GET.
/// The sum of every series of a metric in a Prometheus text exposition; `name` may carry labels
/// (`family{label="x"}`) to sum only the series that start so.
pub fn metric_total(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with([' ', '{']) || name.ends_with('}')))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub fn http_get(address: &str, path: &str) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(address) else { return (0, String::new()) };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}
