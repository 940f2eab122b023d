import { describe, expect, it } from "vitest";
import { agentConfigs, httpAgentConfigs } from "../../src/agents";

describe("agentConfigs", () => {
	it("gives each client the bridge command with the full program path and the vault", () => {
		const configs = agentConfigs("/Users/ann/.local/bin/vault-rag", "/Users/ann/My Notes", "darwin");
		expect(configs.map((c) => c.client)).toEqual(["Claude Desktop", "Claude Code", "Cursor", "Other MCP clients"]);
		const desktop = JSON.parse(configs[0]?.text ?? "") as { mcpServers: Record<string, { command: string; args: string[] }> };
		expect(desktop.mcpServers["vault-rag"]).toEqual({
			command: "/Users/ann/.local/bin/vault-rag",
			args: ["mcp", "--vault", "/Users/ann/My Notes"],
		});
		expect(configs[0]?.where).toContain("Library/Application Support/Claude");
		expect(configs[1]?.text).toBe("claude mcp add vault-rag -- '/Users/ann/.local/bin/vault-rag' mcp --vault '/Users/ann/My Notes'");
	});

	it("quotes for the platform's shell", () => {
		const win = agentConfigs("C:\\Users\\ann\\AppData\\Local\\Programs\\vault-rag\\vault-rag.exe", "D:\\Notes", "win32");
		expect(win[1]?.text).toBe(
			'claude mcp add vault-rag -- "C:\\Users\\ann\\AppData\\Local\\Programs\\vault-rag\\vault-rag.exe" mcp --vault "D:\\Notes"',
		);
		expect(win[0]?.where).toContain("%APPDATA%");
		const tricky = agentConfigs("/bin/vault-rag", "/n/it's mine", "linux");
		expect(tricky[3]?.text).toBe("'/bin/vault-rag' 'mcp' '--vault' '/n/it'\\''s mine'");
	});

	it("gives HTTP clients the URL and the agent token, or the URL alone without tokens", () => {
		const [code, cursor, other] = httpAgentConfigs("http://127.0.0.1:8765/mcp", "t0k");
		expect(code?.text).toBe('claude mcp add --transport http vault-rag http://127.0.0.1:8765/mcp --header "Authorization: Bearer t0k"');
		expect(JSON.parse(cursor?.text ?? "")).toEqual({
			mcpServers: { "vault-rag": { url: "http://127.0.0.1:8765/mcp", headers: { Authorization: "Bearer t0k" } } },
		});
		expect(other?.text).toBe("http://127.0.0.1:8765/mcp\nAuthorization: Bearer t0k");
		const open = httpAgentConfigs("http://127.0.0.1:8765/mcp", null);
		expect(open.map((c) => c.text).join("\n")).not.toContain("Authorization");
	});
});
