// Starts `rebal lsp` for .rebal files. Settings: rebal.path (the command), rebal.policy.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("rebal");
  const command = config.get("path") || "rebal";
  const policy = config.get("policy") || "";
  const serverOptions = { command, args: ["lsp"] };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "rebal" }],
    initializationOptions: policy ? { policy } : {},
    synchronize: {
      configurationSection: "rebal",
      fileEvents: vscode.workspace.createFileSystemWatcher("**/{rebal.toml,pyproject.toml,*.rebal}"),
    },
  };
  client = new LanguageClient("rebal", "rebal", serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
