using System.Globalization;

namespace ChatAgent;

/// <summary>
/// The agent's reply logic: deterministic and local. It retrieves, from what the user said earlier
/// in the same conversation, the statement closest to the new message (cosine similarity of their
/// embeddings, which come from the cache), and answers questions with it. Swap in a model call
/// here; keep the conversation and the cache in <see cref="AgentMemory"/> so they survive relays.
/// </summary>
public static class Replies
{
    private const float AnswerThreshold = 0.3f;
    private const float RepeatThreshold = 0.9f;

    public static string Compose(IReadOnlyList<ChatMessage> history, string text, EmbeddingCache cache)
    {
        // A copy: looking up the history below may reuse the row this embedding is in.
        Span<float> query = stackalloc float[Embedder.Dimensions];
        cache.Get(text).CopyTo(query);

        string? best = null;
        float bestScore = 0;
        int told = 1;
        foreach (var message in history)
        {
            if (message.Role != ChatMessage.User || IsQuestion(message.Text)) continue;
            told++;
            float score = Embedder.Dot(query, cache.Get(message.Text));
            if (score > bestScore) (best, bestScore) = (message.Text, score);
        }

        if (IsQuestion(text))
            return best is not null && bestScore >= AnswerThreshold
                ? Format($"You told me earlier: \"{Quote(best)}\" (similarity {bestScore:0.00}).")
                : "I don't know yet: nothing you have told me in this conversation is about that.";
        if (best is not null && bestScore >= RepeatThreshold)
            return Format($"You said that before: \"{Quote(best)}\".");
        return told == 1
            ? "Hello! Tell me things, then ask me about them: I remember this conversation, across every deploy."
            : Format($"Noted. That makes {told} things you have told me; ask me about any of them.");
    }

    /// <summary>
    /// The reply cut the way a model streams it: a word and the spaces after it per token (leading
    /// spaces go with the first). Joined, the tokens are the reply exactly.
    /// </summary>
    public static List<string> Tokens(string reply)
    {
        var tokens = new List<string>();
        int start = 0;
        bool word = false; // the token so far has more than spaces
        for (int i = 0; i < reply.Length; i++)
        {
            if (!char.IsWhiteSpace(reply[i])) word = true;
            else if (word && (i + 1 == reply.Length || !char.IsWhiteSpace(reply[i + 1])))
            {
                tokens.Add(reply[start..(i + 1)]);
                start = i + 1;
                word = false;
            }
        }
        if (start < reply.Length) tokens.Add(reply[start..]);
        return tokens;
    }

    private static bool IsQuestion(string text) => text.TrimEnd().EndsWith('?');

    private static string Quote(string text) => text.Length <= 200 ? text : text[..200] + "…";

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
