namespace AeternaAgent;

/// <summary>
/// Turns text into a unit vector, deterministically and locally (no model to download): a hashed
/// bag of words plus character trigrams (which catch plurals and typos), signed feature hashing
/// into <see cref="Dimensions"/> floats. Two texts about the same things get a high cosine
/// similarity. Replace it with a real embedding model; the cache around it stays the same.
/// </summary>
public static class Embedder
{
    public const int Dimensions = 256;

    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "is", "are", "was", "were", "be", "am", "do", "does", "did", "what", "which",
        "who", "how", "to", "of", "and", "or", "in", "on", "at", "for", "it", "that", "this", "i", "you", "me",
    };

    public static void Embed(string text, Span<float> vector)
    {
        if (vector.Length != Dimensions) throw new ArgumentException($"the vector needs {Dimensions} elements", nameof(vector));
        vector.Clear();
        foreach (string word in Words(text))
        {
            if (StopWords.Contains(word)) continue;
            Add(vector, Hash(word), 1f);
            string padded = "^" + word + "$";
            for (int i = 0; i + 3 <= padded.Length; i++) Add(vector, Hash(padded.AsSpan(i, 3)), 0.3f);
        }
        float norm = MathF.Sqrt(Dot(vector, vector));
        if (norm > 0)
            for (int i = 0; i < vector.Length; i++) vector[i] /= norm;
    }

    /// <summary>Cosine similarity of two unit vectors (0 when either is all zeros).</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float sum = 0;
        for (int i = 0; i < a.Length && i < b.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>
    /// FNV-1a, 64 bits. Stable across processes and versions, unlike <see cref="string.GetHashCode()"/>,
    /// which is randomized per process: cache keys must mean the same in the next generation.
    /// </summary>
    public static ulong Hash(ReadOnlySpan<char> text)
    {
        ulong hash = 14695981039346656037;
        foreach (char c in text)
        {
            hash = (hash ^ (byte)c) * 1099511628211;
            hash = (hash ^ (byte)(c >> 8)) * 1099511628211;
        }
        return hash;
    }

    private static void Add(Span<float> vector, ulong hash, float weight) =>
        vector[(int)(hash % Dimensions)] += (hash >> 63) == 0 ? weight : -weight;

    private static IEnumerable<string> Words(string text)
    {
        int start = -1;
        for (int i = 0; i <= text.Length; i++)
        {
            bool letter = i < text.Length && char.IsLetterOrDigit(text[i]);
            if (letter && start < 0) start = i;
            else if (!letter && start >= 0)
            {
                yield return text[start..i].ToLowerInvariant();
                start = -1;
            }
        }
    }
}
