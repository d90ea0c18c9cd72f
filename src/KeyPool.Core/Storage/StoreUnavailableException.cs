namespace KeyPool.Core.Storage;

/// <summary>
/// The store cannot be used right now: the database cannot be reached, is shutting down, is locked
/// for too long or is full. Adapters wrap their driver's errors in this at their boundary, so the host
/// can answer 503 (and keep serving known users from its caches) without knowing which database it uses.
/// Programming errors (a missing table, bad SQL) are not wrapped.
/// </summary>
public sealed class StoreUnavailableException : Exception
{
    /// <summary>Creates the exception with the default message.</summary>
    public StoreUnavailableException()
        : base("The store is unavailable.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public StoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the driver's error.</summary>
    public StoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
