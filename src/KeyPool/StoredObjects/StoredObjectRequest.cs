using System.Text.Json;
using KeyPool.Core.StoredObjects;

namespace KeyPool.StoredObjects;

/// <summary>
/// What a <c>/v1</c> request has to do with stored objects: the id it refers to (a <c>previous_response_id</c>, a stored
/// response read or deleted, a deferred completion polled), and what it creates (a stored response, a deferred
/// request). Read from the path, and from the body only for <c>POST responses</c> and a chat body that says
/// <c>deferred</c>, so chat requests pay one vectorised search.
/// </summary>
internal readonly record struct StoredObjectRequest(string? ReferenceId, StoredObjectKind ReferenceKind, StoredObjectKind? Creates, bool Deletes)
{
    private const string Responses = "/responses";
    private const string DeferredPoll = "/chat/deferred-completion/";

    /// <summary>Whether the request touches stored objects at all.</summary>
    public bool Any => ReferenceId is not null || Creates is not null;

    /// <summary>Reads <paramref name="method"/> <paramref name="path"/> (below <c>/v1</c>, already validated) and its body.</summary>
    public static StoredObjectRequest Read(string method, string path, ReadOnlySpan<byte> body)
    {
        if (HttpMethods.IsPost(method))
        {
            if (path == Responses)
            {
                var (previous, store, _) = ReadBody(body);
                return new StoredObjectRequest(previous, StoredObjectKind.Response, store ? StoredObjectKind.Response : null, false);
            }
            if (path == "/chat/completions" && body.IndexOf("\"deferred\""u8) >= 0 && ReadBody(body).Deferred)
            {
                return new StoredObjectRequest(null, StoredObjectKind.Deferred, StoredObjectKind.Deferred, false);
            }
            return default;
        }
        var get = HttpMethods.IsGet(method);
        if ((get || HttpMethods.IsDelete(method)) && path.StartsWith(Responses + "/", StringComparison.Ordinal) && path.IndexOf('/', Responses.Length + 1) < 0)
        {
            return new StoredObjectRequest(path[(Responses.Length + 1)..], StoredObjectKind.Response, null, !get);
        }
        if (get && path.StartsWith(DeferredPoll, StringComparison.Ordinal) && path.IndexOf('/', DeferredPoll.Length) < 0)
        {
            return new StoredObjectRequest(path[DeferredPoll.Length..], StoredObjectKind.Deferred, null, false);
        }
        return default;
    }

    // Top-level members only; the body was validated as one JSON object before.
    private static (string? PreviousResponseId, bool Store, bool Deferred) ReadBody(ReadOnlySpan<byte> body)
    {
        string? previous = null;
        bool store = true, deferred = false;
        if (body.IsEmpty)
        {
            return (previous, store, deferred);
        }
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return (previous, store, deferred);
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("previous_response_id"u8))
                {
                    reader.Read();
                    previous = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("store"u8))
                {
                    reader.Read();
                    store = reader.TokenType != JsonTokenType.False;
                }
                else if (reader.ValueTextEquals("deferred"u8))
                {
                    reader.Read();
                    deferred = reader.TokenType == JsonTokenType.True;
                }
                else
                {
                    reader.Read();
                }
                reader.Skip();
            }
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            // Validated before: unreachable in practice; the request then refers to nothing.
        }
        return (previous is { Length: > 0 } ? previous : null, store, deferred);
    }
}
