using System.CommandLine;

namespace KeyPool.CommandLine;

/// <summary>The <c>keypool</c> command: serve, keys, users import, rebalance, db, emulator, simulate.</summary>
internal static class KeyPoolCommandLine
{
    public static RootCommand Create()
    {
        var root = new RootCommand("KeyPool: one gateway, many upstream LLM API keys.");
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(KeysCommand.Create());
        root.Subcommands.Add(UsersCommand.Create());
        root.Subcommands.Add(RebalanceCommand.Create());
        root.Subcommands.Add(DbCommand.Create());
        root.Subcommands.Add(EmulatorCommand.Create());
        root.Subcommands.Add(SimulateCommand.Create());
        return root;
    }
}
