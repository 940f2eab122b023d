/** Configuration for AI agents (MCP clients) to use this vault through the vault-rag service. */

export interface AgentConfig {
	/** The client, as its users know it. */
	client: string;
	/** Where the text goes. */
	where: string;
	/** What to paste. */
	text: string;
}

/**
 * The stdio command for each client: `vault-rag mcp --vault VAULT`. While Obsidian runs it forwards to the plugin's
 * service (no second model in memory, no token to copy); otherwise it serves the vault on its own.
 */
export function agentConfigs(binary: string, vault: string, platform: NodeJS.Platform): AgentConfig[] {
	const server = { command: binary, args: ["mcp", "--vault", vault] };
	const json = JSON.stringify({ mcpServers: { "vault-rag": server } }, null, 2);
	const quote = (s: string): string => (platform === "win32" ? `"${s.replace(/"/g, '\\"')}"` : `'${s.replace(/'/g, "'\\''")}'`);
	const desktopConfig =
		platform === "darwin"
			? "~/Library/Application Support/Claude/claude_desktop_config.json"
			: platform === "win32"
				? "%APPDATA%\\Claude\\claude_desktop_config.json"
				: "~/.config/Claude/claude_desktop_config.json";
	return [
		{ client: "Claude Desktop", where: `Merge into ${desktopConfig}, then restart Claude Desktop.`, text: json },
		{
			client: "Claude Code",
			where: "Run in a terminal.",
			text: `claude mcp add vault-rag -- ${quote(binary)} mcp --vault ${quote(vault)}`,
		},
		{ client: "Cursor", where: "Merge into ~/.cursor/mcp.json (or .cursor/mcp.json in a project).", text: json },
		{
			client: "Other MCP clients",
			where: "A stdio server with this command and these arguments.",
			text: [binary, ...server.args].map(quote).join(" "),
		},
	];
}

/**
 * The same clients over HTTP (`/mcp` of the running service) with the agent token, which opens only `/mcp`: for
 * clients that take a URL, or to share one warm service without a bridge process. Claude Desktop's config file
 * takes only commands, so it keeps the bridge.
 */
export function httpAgentConfigs(url: string, token: string | null): AgentConfig[] {
	const headers = token ? { Authorization: `Bearer ${token}` } : undefined;
	const json = JSON.stringify({ mcpServers: { "vault-rag": { url, ...(headers ? { headers } : {}) } } }, null, 2);
	const header = token ? ` --header "Authorization: Bearer ${token}"` : "";
	return [
		{ client: "Claude Code (HTTP)", where: "Run in a terminal.", text: `claude mcp add --transport http vault-rag ${url}${header}` },
		{ client: "Cursor (HTTP)", where: "Merge into ~/.cursor/mcp.json (or .cursor/mcp.json in a project).", text: json },
		{
			client: "Other MCP clients (HTTP)",
			where: "A Streamable HTTP server at this URL, with this header.",
			text: token ? `${url}\nAuthorization: Bearer ${token}` : url,
		},
	];
}
