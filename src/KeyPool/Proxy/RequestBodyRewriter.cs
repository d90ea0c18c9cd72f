using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KeyPool.Proxy;

/// <summary>
/// Changes the three things the gateway may change in a body: the model (tier pin or alias), <c>include_usage</c>,
/// and a <c>user</c> field that names someone other than the caller's own credential.
/// </summary>
internal static class RequestBodyRewriter
{
    // The reader's depth, not System.Text.Json's default of 64: a body it accepted must not fail here (a 500).
    // Duplicates of members the gateway does not read are the client's business and pass when nothing is rewritten; a
    // rewrite of such a body throws JsonException (a 400) rather than choosing one of them.
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = ChatRequest.MaxDepth, AllowDuplicateProperties = false };
    private static readonly JsonSerializerOptions WriteOptions = new() { MaxDepth = ChatRequest.MaxDepth };

    private static readonly byte[] IncludeUsageMember = "\"stream_options\":{\"include_usage\":true},"u8.ToArray();

    /// <summary>
    /// Returns the body to send upstream, or <paramref name="body"/> itself when nothing changes. <paramref name="credentialUser"/>
    /// is the user the credential names (gateway key, JWT); it replaces a different body <c>user</c>. Throws
    /// <see cref="JsonException"/> when a rewrite is needed and the body repeats a member.
    /// </summary>
    public static ReadOnlyMemory<byte> Rewrite(ReadOnlyMemory<byte> body, in ChatRequest request, string? pinnedModel, bool addIncludeUsage, string? credentialUser)
    {
        var changeModel = pinnedModel is not null && !string.Equals(pinnedModel, request.Model, StringComparison.Ordinal);
        var changeUser = credentialUser is not null && request.User is not null && !string.Equals(credentialUser, request.User, StringComparison.Ordinal);
        if (!changeModel && !addIncludeUsage && !changeUser)
        {
            return body;
        }
        if (!changeModel && !changeUser && !request.HasStreamOptions)
        {
            // The common streaming case: splice the member in after '{' rather than re-serialising.
            // A stream request has "stream":true, so the object is non-empty and the comma is right.
            var span = body.Span;
            var open = span.IndexOf((byte)'{');
            var result = new byte[body.Length + IncludeUsageMember.Length];
            span[..(open + 1)].CopyTo(result);
            IncludeUsageMember.CopyTo(result.AsSpan(open + 1));
            span[(open + 1)..].CopyTo(result.AsSpan(open + 1 + IncludeUsageMember.Length));
            return result;
        }
        var root = JsonNode.Parse(body.Span, documentOptions: DocumentOptions)!.AsObject();
        if (changeModel)
        {
            root["model"] = pinnedModel;
        }
        if (changeUser)
        {
            root["user"] = credentialUser;
        }
        if (addIncludeUsage)
        {
            if (root["stream_options"] is JsonObject options)
            {
                options["include_usage"] = true;
            }
            else
            {
                root["stream_options"] = new JsonObject { ["include_usage"] = true };
            }
        }
        return Encoding.UTF8.GetBytes(root.ToJsonString(WriteOptions));
    }
}
