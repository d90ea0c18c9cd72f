namespace KeyPool.Core.Storage;

/// <summary>
/// The database's schema is not the one this KeyPool needs (not migrated yet, or migrated by a newer
/// KeyPool). The message says what to run.
/// </summary>
public sealed class StoreSchemaException : Exception
{
    /// <summary>Creates the exception with the default message.</summary>
    public StoreSchemaException()
        : base("The database schema does not match this KeyPool.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public StoreSchemaException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public StoreSchemaException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
