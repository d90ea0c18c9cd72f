namespace KeyPool.Hosting;

/// <summary>A configuration problem that stops the gateway from starting; the message tells the operator what to do.</summary>
internal sealed class StartupException(string message) : Exception(message);
