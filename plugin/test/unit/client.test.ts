import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BackendClient, BackendError } from "../../src/client";

/** A real HTTP server on a free loopback port, answering with `handler`. */
async function serve(handler: http.RequestListener): Promise<{ server: http.Server; port: number }> {
	const server = http.createServer(handler);
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	return { server, port: (server.address() as AddressInfo).port };
}

const servers: http.Server[] = [];
const clients: BackendClient[] = [];

afterEach(async () => {
	for (const client of clients.splice(0)) client.close();
	for (const server of servers.splice(0)) {
		server.closeAllConnections();
		await new Promise((resolve) => server.close(resolve));
	}
});

async function setup(handler: http.RequestListener, timeoutMs = 2_000): Promise<BackendClient> {
	const { server, port } = await serve(handler);
	servers.push(server);
	const client = new BackendClient({ port, token: "secret-token", timeoutMs });
	clients.push(client);
	return client;
}

async function caught(promise: Promise<unknown>): Promise<BackendError> {
	try {
		await promise;
	} catch (err) {
		if (err instanceof BackendError) return err;
		throw err;
	}
	throw new Error("expected the request to fail");
}

function readBody(req: http.IncomingMessage): Promise<string> {
	return new Promise((resolve) => {
		let body = "";
		req.setEncoding("utf8");
		req.on("data", (chunk: string) => (body += chunk));
		req.on("end", () => resolve(body));
	});
}

describe("BackendClient", () => {
	it("sends the bearer token and a JSON body, and parses the answer", async () => {
		let seen: { method?: string; url?: string; auth?: string; type?: string; body?: string } = {};
		const client = await setup((req, res) => {
			void readBody(req).then((body) => {
				seen = {
					method: req.method,
					url: req.url,
					auth: req.headers.authorization,
					type: req.headers["content-type"],
					body,
				};
				res.writeHead(200, { "Content-Type": "application/json" });
				res.end(JSON.stringify({ hits: [], mode: "dense", took_ms: 1.5, index_complete: true }));
			});
		});
		const response = await client.search({ query: "red planet", top_k: 5, mode: "dense" });
		expect(response).toEqual({ hits: [], mode: "dense", took_ms: 1.5, index_complete: true });
		expect(seen.method).toBe("POST");
		expect(seen.url).toBe("/search");
		expect(seen.auth).toBe("Bearer secret-token");
		expect(seen.type).toBe("application/json");
		expect(JSON.parse(seen.body ?? "")).toEqual({ query: "red planet", top_k: 5, mode: "dense" });
	});

	it("encodes the note path of /similar in the query string", async () => {
		let url = "";
		const client = await setup((req, res) => {
			url = req.url ?? "";
			res.writeHead(200, { "Content-Type": "application/json" });
			res.end(JSON.stringify({ path: "x", hits: [], index_complete: true }));
		});
		await client.similar({ path: "Projects/Été & co #1.md", top_k: 7, exclude_linked: true });
		const parsed = new URL(url, "http://localhost");
		expect(parsed.pathname).toBe("/similar");
		expect(parsed.searchParams.get("path")).toBe("Projects/Été & co #1.md");
		expect(parsed.searchParams.get("top_k")).toBe("7");
		expect(parsed.searchParams.get("exclude_linked")).toBe("true");
	});

	it("turns an error JSON answer into a typed error with the backend's code", async () => {
		const client = await setup((_req, res) => {
			res.writeHead(400, { "Content-Type": "application/json" });
			res.end(JSON.stringify({ error: { code: "invalid_request", message: "top_k must be between 1 and 100" } }));
		});
		const err = await caught(client.search({ query: "x", top_k: 1000 }));
		expect(err.kind).toBe("http");
		expect(err.code).toBe("invalid_request");
		expect(err.status).toBe(400);
		expect(err.message).toBe("top_k must be between 1 and 100");
		expect(err.request).toBe("POST /search");
	});

	it("reports an error status without a JSON body by its status", async () => {
		const client = await setup((_req, res) => {
			res.writeHead(502);
			res.end("Bad gateway");
		});
		const err = await caught(client.health());
		expect(err.kind).toBe("http");
		expect(err.code).toBe("http_502");
		expect(err.status).toBe(502);
	});

	it("rejects a success answer that is not JSON", async () => {
		const client = await setup((_req, res) => {
			res.writeHead(200);
			res.end("<html>");
		});
		const err = await caught(client.health());
		expect(err.kind).toBe("invalid_response");
		expect(err.code).toBe("invalid_json");
	});

	it("refuses an answer larger than the limit", async () => {
		const { server, port } = await serve((_req, res) => {
			res.writeHead(200, { "Content-Type": "application/json" });
			res.end(JSON.stringify({ big: "x".repeat(10_000) }));
		});
		servers.push(server);
		const client = new BackendClient({ port, token: "t", maxResponseBytes: 1_000 });
		clients.push(client);
		const err = await caught(client.health());
		expect(err.kind).toBe("invalid_response");
		expect(err.code).toBe("response_too_large");
	});

	it("times out when the backend never answers", async () => {
		const client = await setup(() => {
			// Accept the request and never answer, like a hung backend.
		});
		const started = performance.now();
		const err = await caught(client.health({ timeoutMs: 150 }));
		const elapsed = performance.now() - started;
		expect(err.kind).toBe("timeout");
		expect(err.request).toBe("GET /health");
		expect(elapsed).toBeGreaterThanOrEqual(140);
	});

	it("aborts a request in flight", async () => {
		let received!: () => void;
		const arrived = new Promise<void>((resolve) => (received = resolve));
		const client = await setup(() => received());
		const controller = new AbortController();
		const request = client.search({ query: "slow" }, { signal: controller.signal });
		await arrived;
		controller.abort();
		const err = await caught(request);
		expect(err.kind).toBe("aborted");
	});

	it("does not send a request whose signal is already aborted", async () => {
		let requests = 0;
		const client = await setup((_req, res) => {
			requests += 1;
			res.end("{}");
		});
		const controller = new AbortController();
		controller.abort();
		const err = await caught(client.health({ signal: controller.signal }));
		expect(err.kind).toBe("aborted");
		expect(requests).toBe(0);
	});

	it("reports a refused connection", async () => {
		const { server, port } = await serve(() => undefined);
		await new Promise((resolve) => server.close(resolve));
		const client = new BackendClient({ port, token: "t" });
		clients.push(client);
		const err = await caught(client.health());
		expect(err.kind).toBe("connection");
		expect(err.code).toBe("ECONNREFUSED");
		expect(err.message).toContain(String(port));
	});

	it("reports a connection the backend drops mid-request", async () => {
		const client = await setup((req) => req.socket.destroy());
		const err = await caught(client.indexStatus());
		expect(err.kind).toBe("connection");
		expect(err.request).toBe("GET /index/status");
	});
});
